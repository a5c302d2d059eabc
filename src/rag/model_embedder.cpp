// open_model_embedder: the knowledge base's TextEmbedder seam over slm::Embedder.
#include <slm/embedder.h>
#include <slm/rag.h>

#include <algorithm>

namespace slm::rag {
namespace {

class ModelEmbedder : public TextEmbedder {
public:
    explicit ModelEmbedder(std::unique_ptr<Embedder> embedder) : embedder_(std::move(embedder)) {}
    std::string id() const override { return embedder_->id(); }
    int dim() const override { return int(embedder_->dim()); }
    size_t count_tokens(std::string_view text) const override {
        return embedder_->tokenizer().encode(text, /*add_special=*/false).size();
    }
    // Special tokens ([CLS], [SEP]) take two places of the model's window.
    size_t max_tokens() const override { return size_t(std::max<int64_t>(1, embedder_->max_tokens() - 2)); }
    std::vector<std::vector<float>> embed(std::span<const std::string> texts) override {
        return embedder_->embed(texts);
    }

private:
    std::unique_ptr<Embedder> embedder_;
};

}  // namespace

std::unique_ptr<TextEmbedder> open_model_embedder(const std::string& path, int threads, const std::string& pooling) {
    EmbedderOptions options;
    options.threads = threads;
    options.pooling = pooling;
    return std::make_unique<ModelEmbedder>(Embedder::open(path, options));
}

}  // namespace slm::rag
