// make_handler: exception-to-response mapping shared by all routes.
#include "server/route_handler.h"

#include <slm/error.h>

#include <fmt/format.h>

#include <cstdio>

namespace slm::server {

void write_json(httplib::Response& res, const std::string& body, int status) {
    res.status = status;
    res.set_content(body, "application/json");
}

void write_error(httplib::Response& res, const ApiError& error, ErrorShape shape) {
    write_json(res, shape == ErrorShape::openai ? error.openai_body() : error.ollama_body(), error.status());
}

ErrorShape error_shape_for_path(const std::string& path) {
    return path.rfind("/api/", 0) == 0 ? ErrorShape::ollama : ErrorShape::openai;
}

httplib::Server::Handler make_handler(RequestLog& log, ErrorShape shape, RouteBody body) {
    return [&log, shape, body = std::move(body)](const httplib::Request& req, httplib::Response& res) {
        auto record = log.record(&req);
        try {
            body(req, res, *record);
        } catch (const ApiError& e) {
            write_error(res, e, shape);
        } catch (const slm::Error& e) {  // user input that reached the library (template, tokens)
            write_error(res, ApiError(400, e.what(), "invalid_request_error"), shape);
        } catch (const std::exception& e) {
            fmt::print(stderr, "slm serve: internal error on {} {}: {}\n", req.method, req.path, e.what());
            write_error(res, ApiError(500, fmt::format("Internal server error: {}", e.what()), "server_error"), shape);
        }
    };
}

}  // namespace slm::server
