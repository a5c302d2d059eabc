// EncoderWeights: a BERT-family encoder's tensors bound by role from either naming (Hugging Face's
// BertModel names, with or without a bert. / roberta. prefix, or llama.cpp's GGUF `bert` names),
// shape-checked at load. Matrices stay views of the file (or the CPU matmul's own layout); the
// biases and LayerNorm weights are converted to f32 once.
#pragma once

#include <slm/model_config.h>
#include <slm/tensor.h>

#include <optional>
#include <string>
#include <vector>

namespace slm {

// The GGUF (llama.cpp `bert`) name of a Hugging Face encoder tensor, from the same table the
// loader binds by: "encoder.layer.3.attention.self.query.weight" -> "blk.3.attn_q.weight" (a
// bert. / roberta. prefix and old gamma/beta names accepted). "" for tensors an embedding model
// does not use (pooler, MLM head, position_ids); nullopt for a name the table does not know.
std::optional<std::string> encoder_gguf_name(const std::string& hf_name);

struct EncoderLayerWeights {
    Tensor wq, wk, wv, wo;                   // [D, D] each
    std::vector<float> bq, bk, bv, bo;       // [D]
    std::vector<float> attn_norm, attn_norm_bias;  // [D]: LayerNorm after the attention's residual add
    Tensor w_up, w_down;                     // [F, D], [D, F]
    std::vector<float> b_up, b_down;         // [F], [D]
    std::vector<float> out_norm, out_norm_bias;    // [D]: LayerNorm after the feed-forward's residual add
};

struct EncoderWeights {
    // Binds from `files`; slm::Error naming the file and the missing or mis-shaped tensor.
    explicit EncoderWeights(const ModelFiles& files);

    Tensor token_embedding;     // [V, D]
    Tensor position_embedding;  // [P, D]
    // Row 0 of the token-type table ([D]): every text is one segment, "sentence A" (zeros when the
    // model has no such table).
    std::vector<float> token_type;
    std::vector<float> embed_norm, embed_norm_bias;  // [D]
    std::vector<EncoderLayerWeights> layers;

    // Gives the layers' matrices the CPU matmul's own layout where it has one
    // (kernels::interleave_for_matmul), letting `source` drop the file's pages as they are copied.
    void use_cpu_layouts(const TensorSource& source);

private:
    std::vector<OwnedTensor> copies_;
};

}  // namespace slm
