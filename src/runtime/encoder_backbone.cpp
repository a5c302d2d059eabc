// The Embedder's backbone over a BERT-family encoder: every text of a group in one packed forward,
// then each text's rows pooled.
#include "runtime/embedding_backbone.h"

#include <slm/encoder.h>

namespace slm {
namespace {

class EncoderBackbone : public EmbeddingBackbone {
public:
    EncoderBackbone(ModelFiles files, int threads)
        : model_(std::make_unique<EncoderModel>(std::move(files))), pool_(threads) {}

    const ModelFiles& files() const override { return model_->files(); }
    int64_t dim() const override { return model_->hidden_size(); }
    bool is_encoder() const override { return true; }
    int64_t max_tokens() const override { return model_->max_tokens(); }

    void embed(std::span<const std::vector<int32_t>> texts, Pooling pooling, float* out) override {
        model_->forward(texts, hidden_, &pool_);
        const int64_t D = dim();
        int64_t row = 0;
        for (size_t i = 0; i < texts.size(); ++i) {
            const int64_t T = int64_t(texts[i].size());
            pool_hidden_states(hidden_.data() + row * D, T, D, pooling, out + int64_t(i) * D);
            row += T;
        }
    }

private:
    std::unique_ptr<EncoderModel> model_;
    ThreadPool pool_;
    std::vector<float> hidden_;
};

}  // namespace

std::unique_ptr<EmbeddingBackbone> make_encoder_backbone(ModelFiles files, int threads) {
    return std::make_unique<EncoderBackbone>(std::move(files), threads);
}

}  // namespace slm
