// The architectures slm runs, as data: the Llama family (llama, mistral, qwen2) and those that
// differ from it in a few facts of the forward (gemma, gemma2, gemma3, phi3, phi2): how each pairs
// rotary dimensions in HF and in GGUF layout, whether q/k/v carry a bias, the kind of norm and how
// its weights are stored, the embedding scale, post-norms, q/k norms, which layers slide and their
// rope, fused projections, parallel attention and MLP, a plain or gated MLP, biases everywhere,
// and the tensor names of every weight role in both namings. Adding an architecture is adding a row; a fact of the
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
    attn_q_norm, attn_k_norm,              // per-head norms of q and k before rope (Gemma 3), [head_dim]
    attn_norm_bias, output_norm_bias,      // LayerNorm biases (Phi-2)
    ffn_up_bias, ffn_down_bias, output_bias,  // MLP and output-head biases (Phi-2)
};

// The normalisation of every norm of a model.
enum class NormKind {
    rms,    // x / rms(x) · w (Llama, Gemma)
    layer,  // (x - mean) / std(x) · w + b (Phi-2's LayerNorm with bias)
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
    NormKind norm_kind = NormKind::rms;
    bool qk_norm = false;         // q and k are normed per head (weights [head_dim]) before rope (Gemma 3)
    // The rope base of the sliding-window layers, unscaled, where the config names none
    // (Gemma 3: 10000; its global layers use rope_theta and the scaling). 0: one rope for all.
    double local_rope_theta = 0;
    bool parallel_block = false;  // attention and MLP read the same norm of x, both add to x (Phi-2)
    bool gated_mlp = true;        // act(x Wg) · (x Wu), then down; false: act(x Wu + bu), then down (Phi-2's fc1/fc2)
    bool linear_bias = false;     // attention output, MLP, norms and output head all carry biases (Phi-2)
    bool gguf = true;             // its GGUF tensors and keys are read
    // GGUF has no activation key: the one llama.cpp's graph of this architecture applies.
    std::string_view gguf_activation = "silu";
    std::span<const NamePattern> names = {};  // names that differ from the Llama family's
};

// The row for `name`; throws slm::Error listing the supported architectures.
const Architecture& find_architecture(std::string_view name, const std::string& source);
// The row for `name`, or null when slm has none (describing a file it does not run).
const Architecture* architecture_row(std::string_view name);

// True when the model computes exactly the Llama-family forward (RMSNorm x·w, SwiGLU, separate
// q/k/v and gate/up, 1/√head_dim attention without soft-capping, one window and one rope for
// every layer, sequential blocks):
// what TrainModel and slm convert implement. Other models need support of their own there.
bool is_llama_forward(const Architecture& arch, const ModelConfig& config);

// The tensor name of a role in a naming ("" where that naming has no such tensor): the Llama
// family's, or `arch`'s own where its row names the role differently.
std::string tensor_name(WeightRole role, TensorNaming naming, int layer = 0);
std::string tensor_name(const Architecture& arch, WeightRole role, TensorNaming naming, int layer = 0);

}  // namespace slm::model
