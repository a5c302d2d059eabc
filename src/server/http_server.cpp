// HttpServer: cpp-httplib set-up (thread pool, limits), the cross-cutting request handling (API
// key, CORS, preflight, error bodies, request log) and start/stop; routes live in routes_*.cpp.
#include "server/http_server.h"

#include "server/engine.h"
#include "server/knowledge_bases.h"
#include "server/request_log.h"
#include "server/route_handler.h"
#include "server/routes.h"

#include <slm/error.h>

#include <httplib.h>

#include <fmt/format.h>

#include <csignal>

namespace slm {

using server::ApiError;
using server::ErrorShape;

HttpServer::HttpServer(ServerOptions options, std::unique_ptr<server::Engine> model)
    : options_(std::move(options)), model_(std::move(model)) {
    knowledge_bases_ = std::make_unique<server::ServedKnowledgeBases>(options_.rag, options_.threads);
    log_ = std::make_unique<server::RequestLog>(options_.log_requests);
    http_ = std::make_unique<httplib::Server>();
    context_ = std::make_unique<server::RouteContext>(
        server::RouteContext{options_, model_.get(), *log_, shutting_down_, *knowledge_bases_});
    install_routes();
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::install_routes() {
    httplib::Server& http = *http_;
    // Each streaming client holds a connection (and a thread) for its whole answer.
    const size_t threads = size_t(std::max(4, options_.http_threads));
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_payload_max_length(options_.max_body_bytes);
    http.set_tcp_nodelay(true);  // streamed tokens leave at once
    http.set_read_timeout(30);
    http.set_write_timeout(30);
    if (!options_.cors_origin.empty()) {
        http.set_default_headers({{"Access-Control-Allow-Origin", options_.cors_origin},
                                  {"Access-Control-Expose-Headers", "*"}});
    }

    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        log_->begin(&req);
        if (req.method == "OPTIONS") {  // CORS preflight: always allowed, no key needed
            res.status = 204;
            res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            const std::string asked = req.get_header_value("Access-Control-Request-Headers");
            res.set_header("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
            res.set_header("Access-Control-Max-Age", "86400");
            return httplib::Server::HandlerResponse::Handled;
        }
        // The page's files are public so that it can load and ask for the key; its API calls are not.
        if (!options_.api_key.empty() && req.path != "/health" &&
            !(options_.webui && req.method == "GET" && server::is_webui_path(req.path))) {
            std::string given = req.get_header_value("Authorization");
            if (given.rfind("Bearer ", 0) == 0) given = given.substr(7);
            if (given.empty()) given = req.get_header_value("x-api-key");
            if (given != options_.api_key) {
                const std::string message =
                    given.empty() ? "You didn't provide an API key. Send it as 'Authorization: Bearer KEY'."
                                  : "Incorrect API key provided.";
                server::write_error(res, ApiError(401, message, "invalid_request_error", "", "invalid_api_key"),
                                    server::error_shape_for_path(req.path));
                return httplib::Server::HandlerResponse::Handled;
            }
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });

    // Errors the HTTP library produces itself: unknown route (404), body too large (413), …
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;  // a route's own error body
        std::string message, code;
        std::string type = "invalid_request_error";
        if (res.status == 404) {
            message = fmt::format("Unknown request URL: {} {}", req.method, req.path);
            code = "unknown_url";
        } else if (res.status == 413) {
            message = fmt::format("The request body is too large: the limit is {} bytes", options_.max_body_bytes);
            code = "request_too_large";
        } else if (res.status == 405) {
            message = fmt::format("Method {} is not allowed on {}", req.method, req.path);
        } else {
            message = fmt::format("HTTP error {}", res.status);
            if (res.status >= 500) type = "server_error";
        }
        server::write_error(res, ApiError(res.status, message, type, "", code), server::error_shape_for_path(req.path));
    });

    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        log_->finish(&req, req.method, req.path, res.status);
    });

    server::add_info_routes(http, *context_);
    server::add_openai_routes(http, *context_);
    server::add_ollama_routes(http, *context_);
    server::add_lora_routes(http, *context_);
    server::add_pull_routes(http, *context_);
    server::add_rag_routes(http, *context_);
    if (options_.webui) server::add_webui_routes(http, *context_);
}

int HttpServer::start() {
    if (started_) return port_;
    // Writing to a socket the client closed must give an error, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    if (options_.port == 0) {
        port_ = http_->bind_to_any_port(options_.host);
        if (port_ <= 0) fail("cannot listen on {} (any port)", options_.host);
    } else {
        if (!http_->bind_to_port(options_.host, options_.port))
            fail("cannot listen on {}:{} (in use, or not an address of this machine)", options_.host, options_.port);
        port_ = options_.port;
    }
    started_ = true;
    listener_ = std::thread([this] { http_->listen_after_bind(); });
    return port_;
}

void HttpServer::stop() {
    {
        std::lock_guard lock(stop_mutex_);
        if (stopped_) return;
        stopped_ = true;
    }
    shutting_down_.store(true);
    if (model_) model_->scheduler().shutdown(std::chrono::milliseconds(options_.shutdown_grace_ms));
    http_->stop();
    if (listener_.joinable()) listener_.join();
    {
        std::lock_guard lock(stop_mutex_);
        finished_ = true;
    }
    stopped_cv_.notify_all();
}

void HttpServer::wait() {
    std::unique_lock lock(stop_mutex_);
    if (started_) stopped_cv_.wait(lock, [&] { return finished_; });
}

}  // namespace slm
