// The Llama-family architectures slm runs, as data: how each pairs rotary dimensions in HF and in
// GGUF layout, whether q/k/v carry a bias, and the tensor names of every weight role in both
// namings. Adding an architecture of this family is adding a row.
#pragma once

#include <slm/kernels.h>
#include <slm/model_config.h>

#include <string>
#include <string_view>

namespace slm::model {

struct Architecture {
    std::string_view name;        // HF model_type / GGUF general.architecture
    kernels::RopeMode hf_rope;    // rope pairing of the weights as transformers stores them
    kernels::RopeMode gguf_rope;  // after llama.cpp's converter (which permutes llama's q/k rows)
    bool qkv_bias;                // q/k/v projections always have a bias
};

// The row for `name`; throws slm::Error listing the supported architectures.
const Architecture& find_architecture(std::string_view name, const std::string& source);

// Every weight of a Llama-family model.
enum class WeightRole {
    token_embedding, output_norm, output,  // whole-model weights
    attn_norm, attn_q, attn_k, attn_v, attn_o, attn_q_bias, attn_k_bias, attn_v_bias, attn_o_bias,
    ffn_norm, ffn_gate, ffn_up, ffn_down,  // per-layer weights
    rope_freqs,                            // GGUF only: llama3 rope factors, [head_dim / 2]
};

// The tensor name of a role in a naming ("" where that naming has no such tensor).
std::string tensor_name(WeightRole role, TensorNaming naming, int layer = 0);

}  // namespace slm::model
