// HttpServer: the cpp-httplib server with everything around the routes: API key, CORS and
// preflight, body size limit, error bodies in OpenAI's or ollama's shape, request log, lifecycle.
// slm::Server (include/slm/server.h) is a thin owner of one; tests build one directly.
#pragma once

#include <slm/server.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace httplib {
class Server;
}

namespace slm::server {

class Engine;
class RequestLog;
class ServedKnowledgeBases;

// What route handlers share.
struct RouteContext {
    const ServerOptions& options;
    Engine* model;  // null when the server runs without a model (HTTP-layer tests)
    RequestLog& log;
    const std::atomic<bool>& shutting_down;
    ServedKnowledgeBases& knowledge_bases;  // the --rag KBs (none: empty)
};

}  // namespace slm::server

namespace slm {

class HttpServer {
public:
    // `model` may be null: then only the routes that need no model answer normally. The
    // knowledge bases of options.rag are opened here (slm::Error naming a KB that cannot be).
    HttpServer(ServerOptions options, std::unique_ptr<server::Engine> model);
    ~HttpServer();

    int start();
    int port() const { return port_; }
    void stop();
    void wait();
    server::Engine* model() const { return model_.get(); }

private:
    void install_routes();
    ServerOptions options_;
    std::unique_ptr<server::Engine> model_;
    std::unique_ptr<server::ServedKnowledgeBases> knowledge_bases_;
    std::unique_ptr<server::RequestLog> log_;
    std::unique_ptr<httplib::Server> http_;
    std::unique_ptr<server::RouteContext> context_;
    std::atomic<bool> shutting_down_{false};
    std::thread listener_;
    int port_ = 0;
    std::mutex stop_mutex_;
    std::condition_variable stopped_cv_;
    bool stopped_ = false;   // stop() has begun
    bool finished_ = false;  // stop() has completed
    bool started_ = false;
};

}  // namespace slm
