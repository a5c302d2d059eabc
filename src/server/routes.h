// The route groups; each registers its handlers on the HTTP server.
#pragma once

#include "server/http_server.h"

namespace httplib {
class Server;
}

namespace slm::server {

void add_info_routes(httplib::Server& http, RouteContext& context);    // /health, /v1/models, /api/tags, /api/version, /api/show
void add_openai_routes(httplib::Server& http, RouteContext& context);  // /v1/chat/completions, /v1/completions, /v1/embeddings
void add_ollama_routes(httplib::Server& http, RouteContext& context);  // /api/chat, /api/generate
void add_lora_routes(httplib::Server& http, RouteContext& context);    // GET/POST /lora-adapters
void add_pull_routes(httplib::Server& http, RouteContext& context);    // POST /api/pull

// The engine, or 503 when the server runs without a model; `model` (when given) must name it.
Engine& require_model(const RouteContext& context);

}  // namespace slm::server
