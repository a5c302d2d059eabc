// Server test support: in-process server start-up, clients, stream parsing, error checks.
#include "server/server_test_support.h"

#include "testing/testing.h"

#include <slm/file_io.h>

#include <gtest/gtest.h>

#include <sstream>

namespace slm::server::test {

std::string tiny_model_path() {
    const std::string shared = slm::test::shared_dir();
    if (shared.empty()) return "";
    const std::string path = shared + "/models/tinyqwen2-bpe-11m";
    return is_directory(path) ? path : "";
}

httplib::Client RunningServer::client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(120, 0);
    c.set_write_timeout(30, 0);
    c.set_connection_timeout(10, 0);
    return c;
}

RunningServer start_server(ServerOptions options, std::unique_ptr<Engine> engine) {
    options.host = "127.0.0.1";
    options.port = 0;
    options.log_requests = false;
    RunningServer running;
    running.server = std::make_unique<HttpServer>(std::move(options), std::move(engine));
    running.port = running.server->start();
    return running;
}

SseEvents parse_sse(const std::string& body) {
    SseEvents out;
    std::istringstream lines(body);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("data: ", 0) != 0) continue;
        const std::string data = line.substr(6);
        if (data == "[DONE]") {
            out.done = true;
            continue;
        }
        EXPECT_FALSE(out.done) << "event after [DONE]";
        out.events.push_back(nlohmann::json::parse(data));
    }
    return out;
}

std::vector<nlohmann::json> parse_ndjson(const std::string& body) {
    std::vector<nlohmann::json> out;
    std::istringstream lines(body);
    std::string line;
    while (std::getline(lines, line))
        if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
}

void expect_openai_error(const httplib::Result& result, int status, const std::string& param) {
    ASSERT_TRUE(result) << "no response";
    EXPECT_EQ(result->status, status) << result->body;
    const auto body = nlohmann::json::parse(result->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << result->body;
    ASSERT_TRUE(body.contains("error")) << result->body;
    const auto& error = body["error"];
    EXPECT_TRUE(error["message"].is_string());
    EXPECT_FALSE(error["message"].get<std::string>().empty());
    EXPECT_TRUE(error["type"].is_string());
    EXPECT_TRUE(error.contains("param"));
    EXPECT_TRUE(error.contains("code"));
    if (param.empty()) {
        EXPECT_TRUE(error["param"].is_null()) << result->body;
    } else {
        EXPECT_EQ(error["param"], param) << result->body;
        // The message names the field too.
        const std::string field = param.substr(0, param.find_first_of(".["));
        EXPECT_NE(error["message"].get<std::string>().find(field), std::string::npos) << result->body;
    }
}

}  // namespace slm::server::test
