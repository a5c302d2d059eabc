// Architecture rows and the tensor-name tables: the Llama family's names for HF and GGUF, and
// each other architecture's names where they differ.
#include "model/architecture.h"

#include <slm/error.h>

#include <array>
#include <cmath>
#include <fmt/format.h>

namespace slm::model {

namespace {

using kernels::RopeMode;

constexpr std::array kNames = {
    NamePattern{WeightRole::token_embedding, "model.embed_tokens.weight", "token_embd.weight"},
    NamePattern{WeightRole::output_norm, "model.norm.weight", "output_norm.weight"},
    NamePattern{WeightRole::output, "lm_head.weight", "output.weight"},
    NamePattern{WeightRole::attn_norm, "model.layers.{}.input_layernorm.weight", "blk.{}.attn_norm.weight"},
    NamePattern{WeightRole::attn_q, "model.layers.{}.self_attn.q_proj.weight", "blk.{}.attn_q.weight"},
    NamePattern{WeightRole::attn_k, "model.layers.{}.self_attn.k_proj.weight", "blk.{}.attn_k.weight"},
    NamePattern{WeightRole::attn_v, "model.layers.{}.self_attn.v_proj.weight", "blk.{}.attn_v.weight"},
    NamePattern{WeightRole::attn_o, "model.layers.{}.self_attn.o_proj.weight", "blk.{}.attn_output.weight"},
    NamePattern{WeightRole::attn_q_bias, "model.layers.{}.self_attn.q_proj.bias", "blk.{}.attn_q.bias"},
    NamePattern{WeightRole::attn_k_bias, "model.layers.{}.self_attn.k_proj.bias", "blk.{}.attn_k.bias"},
    NamePattern{WeightRole::attn_v_bias, "model.layers.{}.self_attn.v_proj.bias", "blk.{}.attn_v.bias"},
    NamePattern{WeightRole::attn_o_bias, "model.layers.{}.self_attn.o_proj.bias", "blk.{}.attn_output.bias"},
    NamePattern{WeightRole::ffn_norm, "model.layers.{}.post_attention_layernorm.weight", "blk.{}.ffn_norm.weight"},
    NamePattern{WeightRole::ffn_gate, "model.layers.{}.mlp.gate_proj.weight", "blk.{}.ffn_gate.weight"},
    NamePattern{WeightRole::ffn_up, "model.layers.{}.mlp.up_proj.weight", "blk.{}.ffn_up.weight"},
    NamePattern{WeightRole::ffn_down, "model.layers.{}.mlp.down_proj.weight", "blk.{}.ffn_down.weight"},
    NamePattern{WeightRole::rope_freqs, "", "rope_freqs.weight"},
    NamePattern{WeightRole::attn_qkv, "model.layers.{}.self_attn.qkv_proj.weight", "blk.{}.attn_qkv.weight"},
    NamePattern{WeightRole::ffn_gate_up, "model.layers.{}.mlp.gate_up_proj.weight", ""},
    NamePattern{WeightRole::attn_post_norm, "", "blk.{}.post_attention_norm.weight"},
    NamePattern{WeightRole::ffn_post_norm, "model.layers.{}.post_feedforward_layernorm.weight", "blk.{}.post_ffw_norm.weight"},
    NamePattern{WeightRole::rope_factors_long, "", "rope_factors_long.weight"},
    NamePattern{WeightRole::rope_factors_short, "", "rope_factors_short.weight"},
    NamePattern{WeightRole::attn_q_norm, "model.layers.{}.self_attn.q_norm.weight", "blk.{}.attn_q_norm.weight"},
    NamePattern{WeightRole::attn_k_norm, "model.layers.{}.self_attn.k_norm.weight", "blk.{}.attn_k_norm.weight"},
    NamePattern{WeightRole::attn_norm_bias, "model.layers.{}.input_layernorm.bias", "blk.{}.attn_norm.bias"},
    NamePattern{WeightRole::output_norm_bias, "model.norm.bias", "output_norm.bias"},
    NamePattern{WeightRole::ffn_up_bias, "model.layers.{}.mlp.up_proj.bias", "blk.{}.ffn_up.bias"},
    NamePattern{WeightRole::ffn_down_bias, "model.layers.{}.mlp.down_proj.bias", "blk.{}.ffn_down.bias"},
    NamePattern{WeightRole::output_bias, "lm_head.bias", "output.bias"},
};

// Gemma 2 (and 3) keep post_attention_layernorm for the norm of the attention output, so the
// pre-MLP norm has a name of its own.
constexpr std::array kGemma2Names = {
    NamePattern{WeightRole::ffn_norm, "model.layers.{}.pre_feedforward_layernorm.weight", "blk.{}.ffn_norm.weight"},
    NamePattern{WeightRole::attn_post_norm, "model.layers.{}.post_attention_layernorm.weight",
                "blk.{}.post_attention_norm.weight"},
};

// Phi-2 (transformers' PhiForCausalLM): dense for the attention output, fc1/fc2 for the MLP,
// final_layernorm; llama.cpp maps them to the usual GGUF names.
constexpr std::array kPhi2Names = {
    NamePattern{WeightRole::output_norm, "model.final_layernorm.weight", "output_norm.weight"},
    NamePattern{WeightRole::output_norm_bias, "model.final_layernorm.bias", "output_norm.bias"},
    NamePattern{WeightRole::attn_o, "model.layers.{}.self_attn.dense.weight", "blk.{}.attn_output.weight"},
    NamePattern{WeightRole::attn_o_bias, "model.layers.{}.self_attn.dense.bias", "blk.{}.attn_output.bias"},
    NamePattern{WeightRole::ffn_up, "model.layers.{}.mlp.fc1.weight", "blk.{}.ffn_up.weight"},
    NamePattern{WeightRole::ffn_up_bias, "model.layers.{}.mlp.fc1.bias", "blk.{}.ffn_up.bias"},
    NamePattern{WeightRole::ffn_down, "model.layers.{}.mlp.fc2.weight", "blk.{}.ffn_down.weight"},
    NamePattern{WeightRole::ffn_down_bias, "model.layers.{}.mlp.fc2.bias", "blk.{}.ffn_down.bias"},
};

// llama.cpp writes Phi-3's gate_up_proj whole as ffn_up ([2F, D], gate rows first: its SwiGLU
// takes silu of the first half times the second).
constexpr std::array kPhi3Names = {
    NamePattern{WeightRole::ffn_gate_up, "model.layers.{}.mlp.gate_up_proj.weight", "blk.{}.ffn_up.weight"},
};

// llama.cpp's converter permutes q/k rows of `llama` (and Mistral, which it writes as llama) so
// that its "normal" rope pairs (2i, 2i+1); the others are left as they are and use neox pairing.
constexpr std::array kArchitectures = {
    Architecture{"llama", RopeMode::neox, RopeMode::normal, false},
    Architecture{"mistral", RopeMode::neox, RopeMode::normal, false},
    Architecture{"qwen2", RopeMode::neox, RopeMode::neox, true},
    Architecture{.name = "gemma", .hf_rope = RopeMode::neox, .gguf_rope = RopeMode::neox, .qkv_bias = false,
                 .hf_norm = NormWeight::one_plus, .embedding_scale = true, .tied_by_default = true,
                 .gguf_activation = "gelu_pytorch_tanh"},
    Architecture{.name = "gemma2", .hf_rope = RopeMode::neox, .gguf_rope = RopeMode::neox, .qkv_bias = false,
                 .hf_norm = NormWeight::one_plus, .embedding_scale = true, .post_norms = true, .global_every = 2,
                 .tied_by_default = true, .gguf_activation = "gelu_pytorch_tanh", .names = kGemma2Names},
    Architecture{.name = "gemma3", .hf_rope = RopeMode::neox, .gguf_rope = RopeMode::neox, .qkv_bias = false,
                 .hf_norm = NormWeight::one_plus, .embedding_scale = true, .post_norms = true, .global_every = 6,
                 .tied_by_default = true, .qk_norm = true, .local_rope_theta = 10000.0,
                 .gguf_activation = "gelu_pytorch_tanh", .names = kGemma2Names},
    Architecture{.name = "phi3", .hf_rope = RopeMode::neox, .gguf_rope = RopeMode::neox, .qkv_bias = false,
                 .fused_qkv = true, .fused_gate_up = true, .names = kPhi3Names},
    Architecture{.name = "phi2", .hf_rope = RopeMode::neox, .gguf_rope = RopeMode::neox, .qkv_bias = true,
                 .norm_kind = NormKind::layer, .parallel_block = true, .gated_mlp = false, .linear_bias = true,
                 .gguf_activation = "gelu_new", .names = kPhi2Names},
};

std::string format_name(std::string_view pattern, int layer) { return fmt::format(fmt::runtime(pattern), layer); }

}  // namespace

const Architecture* architecture_row(std::string_view name) {
    for (const Architecture& a : kArchitectures)
        if (a.name == name) return &a;
    return nullptr;
}

const Architecture& find_architecture(std::string_view name, const std::string& source) {
    if (const Architecture* a = architecture_row(name)) return *a;
    std::string supported;
    for (const Architecture& a : kArchitectures) supported += fmt::format("{}{}", supported.empty() ? "" : ", ", a.name);
    fail("{}: architecture '{}' is not supported (supported: {})", source, name, supported);
}

bool is_llama_forward(const Architecture& arch, const ModelConfig& c) {
    const bool plain_rows = arch.hf_norm == NormWeight::scale && !arch.embedding_scale && !arch.post_norms &&
                            arch.global_every == 0 && !arch.fused_qkv && !arch.fused_gate_up &&
                            arch.norm_kind == NormKind::rms && !arch.qk_norm && arch.local_rope_theta == 0 &&
                            !arch.parallel_block && arch.gated_mlp && !arch.linear_bias;
    const bool plain_config = (c.hidden_act == "silu" || c.hidden_act == "swish") &&
                              (c.query_pre_attn_scalar == 0 || c.query_pre_attn_scalar == c.head_dim) &&
                              c.attn_logit_softcapping == 0 && c.final_logit_softcapping == 0 &&
                              c.partial_rotary_factor == 1.0 && c.rope_local_theta == 0;
    bool one_window = true;
    for (const std::string& t : c.layer_types) one_window = one_window && t == c.layer_types.front();
    return plain_rows && plain_config && one_window;
}

std::string tensor_name(WeightRole role, TensorNaming naming, int layer) {
    for (const NamePattern& p : kNames)
        if (p.role == role) return format_name(naming == TensorNaming::hf ? p.hf : p.gguf, layer);
    return "";
}

std::string tensor_name(const Architecture& arch, WeightRole role, TensorNaming naming, int layer) {
    for (const NamePattern& p : arch.names)
        if (p.role == role) return format_name(naming == TensorNaming::hf ? p.hf : p.gguf, layer);
    return tensor_name(role, naming, layer);
}

}  // namespace slm::model
