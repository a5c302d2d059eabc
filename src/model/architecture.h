// The architectures slm runs, as data: the Llama family (llama, mistral, qwen2) and those that
// differ from it in a few facts of the forward (gemma, gemma2, phi3): how each pairs rotary
// dimensions in HF and in GGUF layout, whether q/k/v carry a bias, how norm weights are stored,
// the embedding scale, post-norms, which layers slide, fused projections, and the tensor names
// of every weight role in both namings. Adding an architecture is adding a row; a fact of the
// forward that no row has yet is a new column (the forward in model.cpp reads the columns).
#pragma once

#include <slm/kernels.h>
#include <slm/model_config.h>

#include <span>
#include <string>
#include <string_view>

namespace slm::model {

// Every weight of a model, by what it does.
enum class WeightRole {
    token_embedding, output_norm, output,  // whole-model weights
    attn_norm, attn_q, attn_k, attn_v, attn_o, attn_q_bias, attn_k_bias, attn_v_bias, attn_o_bias,
    ffn_norm, ffn_gate, ffn_up, ffn_down,  // per-layer weights of the Llama family
    rope_freqs,                            // GGUF only: llama3 rope factors, [head_dim / 2]
    // Beyond the Llama family (after rope_freqs, so that loops over attn_norm..ffn_down still
    // visit exactly the Llama family's layer weights):
    attn_qkv,                              // q, k and v rows stacked in one matrix (Phi-3's qkv_proj)
    ffn_gate_up,                           // gate then up rows in one matrix (Phi-3's gate_up_proj)
    attn_post_norm, ffn_post_norm,         // norms of the attention and MLP outputs (Gemma 2)
    rope_factors_long, rope_factors_short, // GGUF only: longrope divisors (Phi-3), [head_dim / 2]
};

// How a norm weight w scales the normalised x, as the HF checkpoint stores w.
enum class NormWeight {
    scale,         // x · w (Llama)
    one_plus,      // x · (1 + w) (Gemma; llama.cpp's converter stores 1 + w in GGUF)
};

// A tensor name per naming; {} stands for the layer index, "" for "no such tensor".
struct NamePattern {
    WeightRole role;
    std::string_view hf;
    std::string_view gguf;
};

struct Architecture {
    std::string_view name;        // HF model_type / GGUF general.architecture
    kernels::RopeMode hf_rope;    // rope pairing of the weights as transformers stores them
    kernels::RopeMode gguf_rope;  // after llama.cpp's converter (which permutes llama's q/k rows)
    bool qkv_bias;                // q/k/v projections always have a bias
    NormWeight hf_norm = NormWeight::scale;
    NormWeight gguf_norm = NormWeight::scale;  // llama.cpp's converter stores Gemma's 1 + w
    bool embedding_scale = false; // token embeddings times √hidden_size (Gemma)
    bool post_norms = false;      // attention and MLP outputs are normed before their residual add (Gemma 2)
    // Without the config's layer_types: 0, every layer alike (all slide when sliding_window > 0);
    // N, layer i attends globally when (i + 1) % N == 0 and through the window otherwise
    // (Gemma 2: 2, the even layers slide).
    int global_every = 0;
    bool fused_qkv = false;       // HF stores attn_qkv, split into q/k/v views at load (Phi-3)
    bool fused_gate_up = false;   // HF stores ffn_gate_up, split into gate/up views at load (Phi-3)
    bool tied_by_default = false; // a config without tie_word_embeddings ties the output (Gemma)
    bool gguf = true;             // its GGUF tensors and keys are read
    // GGUF has no activation key: the one llama.cpp's graph of this architecture applies.
    std::string_view gguf_activation = "silu";
    std::span<const NamePattern> names = {};  // names that differ from the Llama family's
};

// The row for `name`; throws slm::Error listing the supported architectures.
const Architecture& find_architecture(std::string_view name, const std::string& source);

// True when the model computes exactly the Llama-family forward (RMSNorm x·w, SwiGLU, separate
// q/k/v and gate/up, 1/√head_dim attention without soft-capping, one window for every layer):
// what TrainModel and slm convert implement. Other models need support of their own there.
bool is_llama_forward(const Architecture& arch, const ModelConfig& config);

// The tensor name of a role in a naming ("" where that naming has no such tensor): the Llama
// family's, or `arch`'s own where its row names the role differently.
std::string tensor_name(WeightRole role, TensorNaming naming, int layer = 0);
std::string tensor_name(const Architecture& arch, WeightRole role, TensorNaming naming, int layer = 0);

}  // namespace slm::model
