// The served engine of an embedding model (a BERT-family encoder): an Embedder run on the
// scheduler thread, so that requests embed one at a time as decoders' do. It generates nothing:
// its scheduler's backend has no sequences, and the generation routes refuse it before that.
#include "server/engine.h"

#include <slm/embedder.h>
#include <slm/error.h>
#include <slm/model_config.h>
#include <slm/server.h>

#include <fmt/format.h>

namespace slm::server {
namespace {

// The scheduler's backend: the embedder's limits, and no generation at all.
class EmbeddingOnlyBackend : public InferenceBackend {
public:
    EmbeddingOnlyBackend(Embedder& embedder, int context) : embedder_(embedder), context_(context) {}
    int context_length() const override { return context_; }
    int vocab_size() const override { return embedder_.tokenizer().vocab_size(); }
    int max_sequences() const override { return 1; }
    void forward(std::span<const BatchEntry>, const AdapterSet&, std::vector<float>&) override { refuse(); }
    void keep_prefix(int, int) override {}
    void copy_prefix(int, int, int) override {}
    bool is_end_of_generation(int32_t) const override { return true; }
    std::unique_ptr<PieceDecoder> new_decoder() const override { refuse(); }
    std::unique_ptr<TokenSampler> new_sampler(const SamplingParams&) const override { refuse(); }
    Embedder& embedder() { return embedder_; }

private:
    [[noreturn]] void refuse() const { fail("{} is an embedding model: it does not generate text", embedder_.name()); }
    Embedder& embedder_;
    int context_;
};

class EncoderEngine : public Engine {
public:
    explicit EncoderEngine(const ServerOptions& options) {
        EmbedderOptions embedder_options;
        embedder_options.threads = options.threads;
        if (options.context > 0) embedder_options.max_tokens = options.context;
        embedder_ = Embedder::open(options.model_path, embedder_options);
        const int context = int(embedder_->max_tokens());
        backend_ = std::make_unique<EmbeddingOnlyBackend>(*embedder_, context);
        vocabulary_ = std::make_shared<TokenVocabulary>();
        info_ = describe_model(ModelFiles::open(options.model_path), options, context);
        info_.embedding_length = int(embedder_->dim());
        scheduler_ = std::make_unique<Scheduler>(*backend_, SchedulerOptions{options.queue_size, options.batch_tokens});
        fmt::print(stderr, "slm serve: {} is an embedding model ({} dimensions, {} pooling{}): /v1/embeddings and /api/embed\n",
                   embedder_->name(), embedder_->dim(), pooling_name(embedder_->pooling()),
                   embedder_->normalize() ? ", normalized" : "");
    }
    ~EncoderEngine() override { scheduler_->shutdown(std::chrono::milliseconds(0)); }

    const ModelInfo& info() const override { return info_; }
    std::string render_chat(const nlohmann::json&) const override {
        fail("{} is an embedding model: it has no chat template", embedder_->name());
    }
    // With the special tokens: the embedder's own ids, cut to its max_tokens as
    // sentence-transformers truncates (so an input is never too long).
    std::vector<int32_t> tokenize(std::string_view text, bool add_special) const override {
        return add_special ? embedder_->tokens(text) : embedder_->tokenizer().encode(text, false);
    }
    std::string detokenize(std::span<const int32_t> tokens) const override { return embedder_->tokenizer().decode(tokens); }
    std::shared_ptr<const TokenVocabulary> vocabulary() const override { return vocabulary_; }
    Scheduler& scheduler() override { return *scheduler_; }
    ServedAdapters& adapters() override { return adapters_; }
    bool generates() const override { return false; }

    std::vector<float> embed(std::span<const int32_t> tokens, const AdapterSet& adapters) override {
        if (!adapters.empty()) fail("{} is an embedding model: it takes no LoRA adapters", embedder_->name());
        std::vector<std::vector<float>> vectors;
        const std::vector<std::vector<int32_t>> one{std::vector<int32_t>(tokens.begin(), tokens.end())};
        scheduler_->run_exclusive([&](InferenceBackend&) { vectors = embedder_->embed_tokens(one); });
        return std::move(vectors.front());
    }

private:
    std::unique_ptr<Embedder> embedder_;
    std::unique_ptr<EmbeddingOnlyBackend> backend_;
    std::shared_ptr<const TokenVocabulary> vocabulary_;
    ServedAdapters adapters_;
    ModelInfo info_;
    std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace

std::unique_ptr<Engine> load_encoder_engine(const ServerOptions& options) { return std::make_unique<EncoderEngine>(options); }

}  // namespace slm::server
