// Architecture rows and the tensor-name table of the Llama family, for HF and GGUF naming.
#include "model/architecture.h"

#include <slm/error.h>

#include <array>
#include <fmt/format.h>

namespace slm::model {

namespace {

using kernels::RopeMode;

// llama.cpp's converter permutes q/k rows of `llama` (and Mistral, which it writes as llama) so
// that its "normal" rope pairs (2i, 2i+1); qwen2 is left as is and uses neox pairing.
constexpr std::array kArchitectures = {
    Architecture{"llama", RopeMode::neox, RopeMode::normal, false},
    Architecture{"mistral", RopeMode::neox, RopeMode::normal, false},
    Architecture{"qwen2", RopeMode::neox, RopeMode::neox, true},
};

struct NamePattern {
    WeightRole role;
    std::string_view hf;    // {} stands for the layer index
    std::string_view gguf;
};

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
};

}  // namespace

const Architecture& find_architecture(std::string_view name, const std::string& source) {
    std::string supported;
    for (const Architecture& a : kArchitectures) {
        if (a.name == name) return a;
        supported += fmt::format("{}{}", supported.empty() ? "" : ", ", a.name);
    }
    fail("{}: architecture '{}' is not supported (supported: {})", source, name, supported);
}

std::string tensor_name(WeightRole role, TensorNaming naming, int layer) {
    for (const NamePattern& p : kNames) {
        if (p.role != role) continue;
        const std::string_view pattern = naming == TensorNaming::hf ? p.hf : p.gguf;
        return fmt::format(fmt::runtime(pattern), layer);
    }
    return "";
}

}  // namespace slm::model
