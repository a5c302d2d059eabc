// Engine: the served model as the routes see it: its description, chat template, tokenizer, the
// Scheduler that generates, its LoRA adapters, and embeddings. model_engine.cpp builds the real one from a model
// path; tests may build one over any InferenceBackend.
#pragma once

#include "server/json_grammar.h"
#include "server/scheduler.h"
#include "server/served_adapters.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slm {
struct ServerOptions;
struct ModelFiles;
}

namespace slm::server {

struct ModelInfo {
    std::string id;               // the served name ("tinyqwen2-bpe-11m")
    std::vector<std::string> aliases;  // ServerOptions::model_aliases
    int64_t created = 0;          // unix seconds (the model file's modification time)
    std::string modified_at;      // the same in RFC 3339, for ollama
    std::string architecture;     // "qwen2", "llama"
    int64_t parameter_count = 0;
    std::string quantization;     // weight dtype: "bf16", "q8_0"
    std::string format;           // "gguf" or "safetensors"
    int context_length = 0;       // tokens per sequence, as served
    int trained_context_length = 0;
    int embedding_length = 0;
    int64_t size_bytes = 0;
    std::string digest;           // a stable id of the files (ollama's "digest")
    std::string chat_template;    // the model's template source ("" when it has none)
};

class Engine {
public:
    virtual ~Engine() = default;
    virtual const ModelInfo& info() const = 0;
    // The prompt for `messages` (OpenAI message objects with string content), rendered by the
    // model's chat template with the generation prompt added. slm::Error when it cannot render.
    virtual std::string render_chat(const nlohmann::json& messages) const = 0;
    virtual std::vector<int32_t> tokenize(std::string_view text, bool add_special) const = 0;
    virtual std::string detokenize(std::span<const int32_t> tokens) const = 0;
    virtual std::shared_ptr<const TokenVocabulary> vocabulary() const = 0;
    virtual Scheduler& scheduler() = 0;
    // The LoRA adapters loaded at start, which requests choose from.
    virtual ServedAdapters& adapters() = 0;
    // The vector of one input's tokens (as tokenize(text, true) gives them), on the scheduler
    // thread: a decoder's mean of the last hidden states under `adapters`; an encoder's pooled (and
    // normalised, as its sentence-transformers files declare) one.
    virtual std::vector<float> embed(std::span<const int32_t> tokens, const AdapterSet& adapters) = 0;
    // False for an embedding model (a BERT-family encoder): it serves /v1/embeddings and
    // /api/embed, and the generation routes answer 400.
    virtual bool generates() const { return true; }
    // How likely the model finds `question` after each passage (rag::Reranker's scores, higher is
    // better), on the scheduler thread, without adapters; for grounded requests with "rerank".
    // This default refuses: an engine that cannot score passages.
    virtual std::vector<double> rerank_scores(std::string_view question, std::span<const std::string> passages);
};

// What /v1/models, /api/tags and /api/show say about the model files: name, dates, size,
// parameters, weight type, digest. `context` is the served context length.
ModelInfo describe_model(const ModelFiles& files, const ServerOptions& options, int context);

// The engine of an encoder (is_encoder_architecture): embeddings only (encoder_engine.cpp).
std::unique_ptr<Engine> load_encoder_engine(const ServerOptions& options);

// Loads the model named by options.model_path (slm::Error naming the file when it cannot).
std::unique_ptr<Engine> load_model_engine(const ServerOptions& options);

}  // namespace slm::server
