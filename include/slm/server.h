// Server: the OpenAI- and ollama-compatible HTTP server behind `slm serve`. It loads one model,
// serves /v1/* and /api/* on cpp-httplib, and runs all requests through one Scheduler thread that
// batches every active sequence into one forward per step (per LoRA adapter set in use).
// Routes and shapes: docs/serving.md.
#pragma once

#include <slm/hub.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace slm {

// One `--lora` of the server: requests pick it by id (its index) or as model NAME:name.
struct ServerLora {
    std::string path;   // PEFT directory or GGUF LoRA file
    float scale = 1.0f; // the adapter's scale when a request selects it without one
    std::string name;   // empty: the path's base name without extension
};

// One `--rag` of the server: a knowledge base (docs/rag.md) that requests may ground answers in.
struct ServerKnowledgeBase {
    std::string name;  // what requests call it ("rag": {"kb": NAME}); default: the file's stem
    std::string path;  // the KB file `slm rag index` made
};

struct ServerOptions {
    std::string model_path;            // HF directory or .gguf file
    std::string model_name;            // id in /v1/models and /api/tags; default: the file/folder name
    // Other names requests may give the served model (case-insensitive): the org/name:QUANT or
    // org/name@rev it was started from, so that its quant tag is not read as an adapter's name.
    std::vector<std::string> model_aliases;
    std::string host = "127.0.0.1";
    int port = 8080;                   // 0: any free port (see Server::port())
    int parallel = 4;                  // sequences decoded together (KV-cache slots)
    int queue_size = 32;               // requests that may wait for a slot; beyond that: 429
    int context = 0;                   // tokens per sequence; 0: the model's, capped at 4096
    int batch_tokens = 256;            // most tokens in one forward (prompt chunks + decode tokens)
    int threads = 0;                   // compute threads; 0: one per core
    std::string device = "cpu";        // where the model runs: cpu, cuda or auto (device_from_name)
    int gpu_layers = -1;               // on the GPU: layers there, from the first (ModelOptions::gpu_layers)
    int http_threads = 64;             // connections served at once (each streaming client holds one)
    std::string api_key;               // when set, every route but /health needs "Authorization: Bearer KEY"
    size_t max_body_bytes = 4 << 20;   // larger request bodies get 413
    std::string cors_origin = "*";     // Access-Control-Allow-Origin; empty: no CORS headers
    bool log_requests = true;          // one line per request on stderr
    int shutdown_grace_ms = 10000;     // on stop(): in-flight requests may finish for this long
    // A non-streaming request still generating after 2x this long is answered 200 with chunked
    // transfer and a space every interval until its JSON body (JSON ignores leading whitespace):
    // a client that has left is then noticed by a failed write and its generation cancelled.
    int heartbeat_ms = 1000;
    // LoRA adapters loaded at start. A request that names none runs with every one at its scale
    // (llama.cpp's default), or with none when `lora_init_without_apply` (docs/serving.md).
    std::vector<ServerLora> lora;
    bool lora_init_without_apply = false;
    // The Hugging Face cache (slm/hub.h): when set, /v1/models and /api/tags also list the models
    // cached there, and /api/pull pulls into it. `slm serve` sets HubOptions::from_env().
    std::optional<HubOptions> hub;
    // The web chat page at / and /assets/ (docs/webui.md); `slm serve --no-webui` turns it off.
    bool webui = true;
    // Knowledge bases opened read-only at start, each with its own embedding model loaded once;
    // a chat request opts in with its `rag` field (docs/serving.md, Grounded answers).
    std::vector<ServerKnowledgeBase> rag;
};

class HttpServer;  // src/server/http_server.h

class Server {
public:
    // Loads the model (slm::Error naming the file when it cannot) and prepares the routes.
    explicit Server(ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds host:port and serves on background threads; returns the bound port.
    // Throws slm::Error when the address cannot be bound.
    int start();
    int port() const;
    // Graceful shutdown: refuses new work (503), lets in-flight requests finish within the
    // grace time, cancels the rest, then closes the listener. Safe to call from any thread, twice.
    void stop();
    // Blocks until stop() has completed.
    void wait();

private:
    std::unique_ptr<HttpServer> http_;
};

}  // namespace slm
