// The Embedder's backbone over a decoder (Model) in embedding mode: a group of texts as the
// sequences of one KV cache, run in forwards of a bounded number of rows, with the final hidden
// states of the rows the pooling reads (every row for mean, the last for last, the first for cls).
#include "runtime/embedding_backbone.h"

#include <slm/model.h>

#include <algorithm>

namespace slm {
namespace {

// Rows whose hidden states one forward returns: Model::forward computes logits for each of them
// as well ([rows, vocab] floats), which bounds the batch.
constexpr size_t kRowsPerForward = 256;

class DecoderBackbone : public EmbeddingBackbone {
public:
    DecoderBackbone(ModelFiles files, int threads) : model_(std::make_unique<Model>(std::move(files))), pool_(threads) {}

    const ModelFiles& files() const override { return model_->files(); }
    int64_t dim() const override { return model_->config().hidden_size; }
    bool is_encoder() const override { return false; }
    int64_t max_tokens() const override { return model_->config().max_position; }

    void embed(std::span<const std::vector<int32_t>> texts, Pooling pooling, float* out) override {
        const int64_t D = dim();
        size_t longest = 0;
        for (const auto& t : texts) longest = std::max(longest, t.size());
        if (!cache_ || cache_->n_seq() < int(texts.size()) || cache_->n_ctx() < int(longest))
            cache_ = std::make_unique<KvCache>(*model_, int(longest), int(texts.size()), DType::f32);
        for (int s = 0; s < cache_->n_seq(); ++s) cache_->truncate(s, 0);
        // rows[i]: the hidden states kept for text i, in position order.
        std::vector<std::vector<float>> rows(texts.size());
        std::vector<size_t> owner;  // per wanted row of the pending batch: its text
        auto run = [&] {
            if (batch_.size() == 0) return;
            model_->forward(batch_, *cache_, logits_, &pool_, &hidden_);
            for (size_t r = 0; r < owner.size(); ++r)
                rows[owner[r]].insert(rows[owner[r]].end(), hidden_.begin() + int64_t(r) * D,
                                      hidden_.begin() + int64_t(r + 1) * D);
            batch_.clear();
            owner.clear();
        };
        for (size_t i = 0; i < texts.size(); ++i) {
            const size_t T = texts[i].size();
            for (size_t p = 0; p < T; ++p) {
                const bool wanted = pooling == Pooling::mean || (pooling == Pooling::last && p + 1 == T) ||
                                    (pooling == Pooling::cls && p == 0);
                batch_.add(texts[i][p], int32_t(p), int32_t(i), wanted);
                if (wanted) owner.push_back(i);
                if (batch_.size() >= kRowsPerForward * 4 || owner.size() >= kRowsPerForward) run();
            }
        }
        run();
        for (size_t i = 0; i < texts.size(); ++i) {
            const int64_t kept = int64_t(rows[i].size()) / D;
            // Only the rows the pooling reads were kept: pool them as a text of that many tokens.
            pool_hidden_states(rows[i].data(), kept, D, pooling == Pooling::mean ? Pooling::mean : Pooling::cls,
                               out + int64_t(i) * D);
        }
    }

private:
    std::unique_ptr<Model> model_;
    ThreadPool pool_;
    std::unique_ptr<KvCache> cache_;
    Batch batch_;
    std::vector<float> logits_, hidden_;
};

}  // namespace

std::unique_ptr<EmbeddingBackbone> make_decoder_backbone(ModelFiles files, int threads) {
    return std::make_unique<DecoderBackbone>(std::move(files), threads);
}

}  // namespace slm
