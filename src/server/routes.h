// The route groups; each registers its handlers on the HTTP server.
#pragma once

#include "server/http_server.h"

#include <string>

namespace httplib {
class Server;
}

namespace slm::server {

void add_info_routes(httplib::Server& http, RouteContext& context);    // /health, /v1/models, /api/tags, /api/version, /api/show
void add_openai_routes(httplib::Server& http, RouteContext& context);  // /v1/chat/completions, /v1/completions, /v1/embeddings
void add_ollama_routes(httplib::Server& http, RouteContext& context);  // /api/chat, /api/generate, /api/embed
void add_lora_routes(httplib::Server& http, RouteContext& context);    // GET/POST /lora-adapters
void add_pull_routes(httplib::Server& http, RouteContext& context);    // POST /api/pull
void add_rag_routes(httplib::Server& http, RouteContext& context);     // GET /v1/rag/kbs
void add_webui_routes(httplib::Server& http, RouteContext& context);   // GET / (the chat page), /assets/*

// Whether `path` is one of the chat page's files (served without the API key: they hold no data).
bool is_webui_path(const std::string& path);

// The engine, or 503 when the server runs without a model; `model` (when given) must name it.
Engine& require_model(const RouteContext& context);
// The same for a route that generates: 400 when the served model is an embedding model.
Engine& require_generating_model(const RouteContext& context);

}  // namespace slm::server
