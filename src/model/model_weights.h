// ModelWeights: every tensor of a model bound by role (names from its architecture row) and
// checked for shape. Big matrices are zero-copy views into the weight files (any dtype with a
// to_float), fused ones (Phi-3's qkv_proj, gate_up_proj) split into views of their rows; the small
// 1-D norm weights and biases are converted to f32 once, norm weights stored as w of x·(1 + w)
// (Gemma, Gemma 3's q/k norms too) made 1 + w there, so that every norm multiplies by its weight.
#pragma once

#include <slm/model_config.h>
#include <slm/tensor.h>

#include "model/architecture.h"

#include <vector>

namespace slm {

struct LayerWeights {
    std::vector<float> attn_norm, ffn_norm;   // [D]; ffn_norm empty where the MLP reads attn_norm's output (Phi-2)
    std::vector<float> attn_norm_bias;        // [D]; LayerNorm's bias (Phi-2), else empty
    std::vector<float> attn_post_norm, ffn_post_norm;  // [D]; empty unless the architecture has post-norms
    std::vector<float> q_norm, k_norm;        // [Dh]; empty unless the architecture norms q and k (Gemma 3)
    Tensor wq, wk, wv, wo;                    // [H*Dh, D], [Hkv*Dh, D], [Hkv*Dh, D], [D, H*Dh]
    std::vector<float> bq, bk, bv, bo;        // empty when the model has none
    Tensor w_gate, w_up, w_down;              // [F, D], [F, D], [D, F]; w_gate absent (no data) for a plain MLP
    std::vector<float> b_up, b_down;          // [F], [D]; empty when the model has none
};

class ModelWeights {
public:
    // Binds from `files` (naming per files.naming) as the row `arch` describes; throws slm::Error
    // naming the file and the missing or mis-shaped tensor.
    ModelWeights(const ModelFiles& files, const model::Architecture& arch);

    Tensor token_embedding;          // [V, D]
    Tensor output;                   // [V, D]; the embedding itself when tied
    std::vector<float> output_norm;  // [D]
    std::vector<float> output_norm_bias, output_bias;  // [D], [V]; empty unless the model has them (Phi-2)
    std::vector<float> rope_factors; // GGUF rope_freqs.weight ([Dh/2]), empty when absent
    std::vector<LayerWeights> layers;

    // Gives the matrices matmul reads (all but an untied embedding table) the CPU matmul's own
    // layout where it has one, and lets `source` drop the file's copy as each slice is copied.
    // From `first_layer` on when the layers before it run on the GPU (ModelOptions::gpu_layers),
    // which reads the file's layout: the embedding lookup then stays on the file's table.
    void use_cpu_layouts(const TensorSource& source, int first_layer = 0);
    // Replaces the layers' float matrices by NF4 copies made as bitsandbytes makes them (double
    // quantization), letting `source` drop each file copy (ModelOptions::nf4_matrices).
    void quantize_layers_nf4(const TensorSource& source);

private:
    std::vector<OwnedTensor> copies_;  // memory of the matrices use_cpu_layouts replaced
};

}  // namespace slm
