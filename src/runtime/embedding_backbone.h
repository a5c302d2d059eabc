// EmbeddingBackbone: what the Embedder asks of a model, one vector per token list: an encoder's
// forward (EncoderModel) or a decoder's (Model) in embedding mode, pooled as asked. embedder.cpp
// chooses one by architecture; decoder_backbone.cpp and encoder_backbone.cpp implement them.
#pragma once

#include <slm/embedder.h>
#include <slm/model_config.h>
#include <slm/thread_pool.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slm {

class EmbeddingBackbone {
public:
    virtual ~EmbeddingBackbone() = default;
    virtual const ModelFiles& files() const = 0;
    virtual int64_t dim() const = 0;
    virtual bool is_encoder() const = 0;
    // The most tokens one text may have.
    virtual int64_t max_tokens() const = 0;
    // texts: each 1..max_tokens() ids. out: [texts, dim()], each row the texts' hidden states
    // pooled (not normalised).
    virtual void embed(std::span<const std::vector<int32_t>> texts, Pooling pooling, float* out) = 0;
};

std::unique_ptr<EmbeddingBackbone> make_encoder_backbone(ModelFiles files, int threads);
std::unique_ptr<EmbeddingBackbone> make_decoder_backbone(ModelFiles files, int threads);

// Pools the hidden states of one text, rows: [T, D], into out: [D].
void pool_hidden_states(const float* rows, int64_t T, int64_t D, Pooling pooling, float* out);

}  // namespace slm
