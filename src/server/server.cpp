// slm::Server: the public face of the server: loads the model engine and owns the HttpServer.
#include <slm/server.h>

#include "server/engine.h"
#include "server/http_server.h"

namespace slm {

Server::Server(ServerOptions options) {
    auto engine = server::load_model_engine(options);
    http_ = std::make_unique<HttpServer>(std::move(options), std::move(engine));
}
Server::~Server() = default;
int Server::start() { return http_->start(); }
int Server::port() const { return http_->port(); }
void Server::stop() { http_->stop(); }
void Server::wait() { http_->wait(); }

}  // namespace slm
