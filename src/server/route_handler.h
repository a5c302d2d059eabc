// How every route runs: the handler body inside one wrapper that turns ApiError, slm::Error and
// unexpected exceptions into the right status and error body (OpenAI's shape on /v1/*, ollama's
// on /api/*), so a bad request never takes the server down.
#pragma once

#include "server/api_error.h"
#include "server/request_log.h"

#include <httplib.h>

#include <functional>
#include <string>

namespace slm::server {

enum class ErrorShape { openai, ollama };

using RouteBody = std::function<void(const httplib::Request&, httplib::Response&, RequestRecord&)>;

// A handler for httplib that runs `body` with error handling and the request's log record.
httplib::Server::Handler make_handler(RequestLog& log, ErrorShape shape, RouteBody body);

// Writes `error` as the response (status and JSON body).
void write_error(httplib::Response& res, const ApiError& error, ErrorShape shape);
ErrorShape error_shape_for_path(const std::string& path);

void write_json(httplib::Response& res, const std::string& body, int status = 200);

}  // namespace slm::server
