// Test support for the server: an in-process HttpServer on a free loopback port, an HTTP client
// for it, and SSE / NDJSON parsing of streamed bodies.
#pragma once

#include "server/engine.h"
#include "server/http_server.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace slm::server::test {

// The real tiny model in ../shared, or "" (the test should skip).
std::string tiny_model_path();

struct RunningServer {
    std::unique_ptr<HttpServer> server;
    int port = 0;
    httplib::Client client() const;  // a client with generous timeouts
};

// Starts a server on 127.0.0.1 with any free port. `engine` may be null.
RunningServer start_server(ServerOptions options, std::unique_ptr<Engine> engine);

// The JSON objects of an SSE body ("data: {...}" events), and whether "data: [DONE]" ended it.
struct SseEvents {
    std::vector<nlohmann::json> events;
    bool done = false;
};
SseEvents parse_sse(const std::string& body);
std::vector<nlohmann::json> parse_ndjson(const std::string& body);

// Checks an OpenAI error body: status, the error object's shape, and its param.
void expect_openai_error(const httplib::Result& result, int status, const std::string& param);

}  // namespace slm::server::test
