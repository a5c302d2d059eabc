// ModelEngine: the Engine for a model on disk: Model + Tokenizer + ChatTemplate, the --lora
// adapters, a RuntimeBackend with one KV-cache sequence per parallel slot, and the Scheduler that
// drives it.
#include "server/engine.h"
#include "server/api_error.h"
#include "server/runtime_backend.h"

#include <slm/chat_template.h>
#include <slm/encoder.h>
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/lora_files.h>
#include <slm/lora_stack.h>
#include <slm/model.h>
#include <slm/reranker.h>
#include <slm/server.h>
#include <slm/tokenizer.h>

#include <nlohmann/json.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>

namespace slm::server {

namespace {

std::string served_name(const ServerOptions& options) {
    if (!options.model_name.empty()) return options.model_name;
    std::filesystem::path p(options.model_path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
    std::string name = p.filename().string();
    if (name.size() > 5 && name.ends_with(".gguf")) name.resize(name.size() - 5);
    return name.empty() ? "model" : name;
}

}  // namespace

ModelInfo describe_model(const ModelFiles& files, const ServerOptions& options, int context) {
    ModelInfo info;
    info.id = served_name(options);
    info.aliases = options.model_aliases;
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(options.model_path, ec);
    if (!ec) {
        const auto sys = std::chrono::file_clock::to_sys(mtime);
        info.created = std::chrono::duration_cast<std::chrono::seconds>(sys.time_since_epoch()).count();
        info.modified_at = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(sys)));
    }
    info.architecture = files.config.architecture;
    info.format = files.gguf ? "gguf" : "safetensors";
    info.context_length = context;
    info.trained_context_length = files.config.max_position;
    info.embedding_length = files.config.hidden_size;
    info.size_bytes = files.file_bytes;
    info.chat_template = files.chat_template;
    // Parameters, and the weight type that holds most of them.
    std::map<std::string, int64_t> by_type;
    for (const auto& name : files.tensors->tensor_names()) {
        const auto t = files.tensors->find_tensor(name);
        if (!t) continue;
        info.parameter_count += t->numel();
        by_type[std::string(slm::name(t->dtype))] += t->numel();
    }
    int64_t most = -1;
    for (const auto& [type, n] : by_type)
        if (n > most) most = n, info.quantization = type;
    // A stable id of the files, as ollama's digest identifies a model.
    const std::string key = fmt::format("{}|{}|{}", std::filesystem::absolute(options.model_path).string(),
                                        info.size_bytes, info.created);
    uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;
    for (unsigned char c : key) {
        h1 = (h1 ^ c) * 1099511628211ULL;
        h2 = (h2 ^ c) * 0x100000001b3ULL + (h2 >> 29);
    }
    info.digest = fmt::format("{:016x}{:016x}{:016x}{:016x}", h1, h2, h1 ^ (h2 << 1), h2 ^ (h1 >> 3));
    return info;
}

namespace {

// What requests call an adapter: its given name, else the directory's or file's name without
// extension ("out/squad/" -> "squad", "style.gguf" -> "style").
std::string adapter_name(const ServerLora& lora) {
    if (!lora.name.empty()) return lora.name;
    std::filesystem::path p(lora.path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();
    return std::filesystem::is_directory(p) ? p.filename().string() : p.stem().string();
}

ModelOptions model_options(const ServerOptions& options) {
    ModelOptions mo;
    mo.device = device_from_name(options.device);
    mo.gpu_layers = options.gpu_layers;
    return mo;
}

// The --lora adapters read, each bound alone to the model once, so that a file that does not fit
// fails at start (naming it) rather than at the first request that picks it.
std::vector<LoraUse> load_adapters(const Model& model, const ServerOptions& options, std::vector<ServedAdapter>& served) {
    std::vector<LoraUse> uses;
    for (const ServerLora& lora : options.lora) {
        LoraAdapter adapter = load_lora_adapter(lora.path, model.config());  // PEFT directory or GGUF LoRA
        LoraUse use{std::make_shared<const LoraAdapter>(std::move(adapter)), 1.0f, lora.path};
        (void)LoraStack(model, {use});
        served.push_back({int(served.size()), adapter_name(lora), lora.path, lora.scale});
        fmt::print(stderr, "slm serve: lora {} '{}': {} (scale {}, {} modules)\n", served.back().id, served.back().name,
                   lora.path, lora.scale, use.adapter->modules.size());
        uses.push_back(std::move(use));
    }
    return uses;
}

class ModelEngine : public Engine {
public:
    explicit ModelEngine(const ServerOptions& options)
        : model_(Model::load(options.model_path, model_options(options))), tokenizer_(Tokenizer::from_model_path(options.model_path)),
          template_(load_template(*model_)) {
        const int trained = model_->config().max_position > 0 ? model_->config().max_position : 4096;
        const int context = options.context > 0 ? options.context : std::min(trained, 4096);
        std::vector<ServedAdapter> served;
        std::vector<LoraUse> loras = load_adapters(*model_, options, served);
        adapters_ = std::make_unique<ServedAdapters>(std::move(served), !options.lora_init_without_apply);
        backend_ = std::make_unique<RuntimeBackend>(*model_, *tokenizer_, context, std::max(1, options.parallel),
                                                    options.threads, std::move(loras));
        auto vocab = std::make_shared<TokenVocabulary>();
        const int32_t n = model_->vocab_size();
        vocab->bytes.resize(size_t(n));
        for (int32_t id = 0; id < n && id < tokenizer_->vocab_size(); ++id)
            if (!tokenizer_->is_special(id)) vocab->bytes[size_t(id)] = tokenizer_->token_bytes(id);
        vocab->end_ids = backend_->end_ids();
        vocabulary_ = std::move(vocab);
        info_ = describe_model(model_->files(), options, context);
        scheduler_ = std::make_unique<Scheduler>(*backend_, SchedulerOptions{options.queue_size, options.batch_tokens});
    }
    ~ModelEngine() override { scheduler_->shutdown(std::chrono::milliseconds(0)); }

    const ModelInfo& info() const override { return info_; }
    std::string render_chat(const nlohmann::json& messages) const override {
        ChatRenderOptions options;
        options.add_generation_prompt = true;
        return template_.render(nlohmann::ordered_json::parse(messages.dump()), options);
    }
    std::vector<int32_t> tokenize(std::string_view text, bool add_special) const override {
        return tokenizer_->encode(text, add_special, /*parse_special=*/true);
    }
    std::string detokenize(std::span<const int32_t> tokens) const override { return tokenizer_->decode(tokens); }
    std::shared_ptr<const TokenVocabulary> vocabulary() const override { return vocabulary_; }
    Scheduler& scheduler() override { return *scheduler_; }
    ServedAdapters& adapters() override { return *adapters_; }
    std::vector<float> embed(std::span<const int32_t> tokens, const AdapterSet& adapters) override;
    std::vector<double> rerank_scores(std::string_view question, std::span<const std::string> passages) override;

private:
    static ChatTemplate load_template(const Model& model) {
        if (model.files().chat_template.empty()) {
            fmt::print(stderr, "slm serve: {} has no chat template; chat requests use the plain fallback\n",
                       model.files().path);
            return ChatTemplate::plain();
        }
        return ChatTemplate::from_model(model.files());
    }

    std::unique_ptr<Model> model_;
    std::unique_ptr<Tokenizer> tokenizer_;
    ChatTemplate template_;
    std::unique_ptr<ServedAdapters> adapters_;
    std::unique_ptr<RuntimeBackend> backend_;
    std::shared_ptr<const TokenVocabulary> vocabulary_;
    ModelInfo info_;
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<rag::Reranker> reranker_;  // made on the first grounded request that reranks
};

std::vector<float> ModelEngine::embed(std::span<const int32_t> tokens, const AdapterSet& adapters) {
    std::vector<float> result;
    scheduler_->run_exclusive([&](InferenceBackend&) { result = backend_->embed(tokens, adapters); });
    return result;
}

std::vector<double> ModelEngine::rerank_scores(std::string_view question, std::span<const std::string> passages) {
    std::vector<double> scores;
    scheduler_->run_exclusive([&](InferenceBackend&) {
        if (!reranker_) reranker_ = std::make_unique<rag::Reranker>(*model_, *tokenizer_, backend_->pool());
        scores = reranker_->score(question, passages);
    });
    return scores;
}

}  // namespace

std::vector<double> Engine::rerank_scores(std::string_view, std::span<const std::string>) {
    throw ApiError(400, fmt::format("'rag.rerank': the model {} cannot score passages", info().id),
                   "invalid_request_error", "rag.rerank");
}

std::unique_ptr<Engine> load_model_engine(const ServerOptions& options) {
    if (options.model_path.empty()) fail("serve: no model given");
    if (is_encoder_architecture(ModelFiles::open(options.model_path).config.architecture))
        return load_encoder_engine(options);
    return std::make_unique<ModelEngine>(options);
}

}  // namespace slm::server
