// The llama.cpp quantization mixes as data plus the per-tensor rules of llama_tensor_get_type
// (llama.cpp b4748, src/llama-quant.cpp) for the non-IQ targets: which tensors keep more bits.
#include "quant/recipe.h"

#include <slm/error.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

namespace slm::quant {
namespace {

// llama_ftype values (include/llama.h).
enum FileType : int {
    kAllF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 7, kQ5_0 = 8, kQ5_1 = 9, kQ2_K = 10,
    kQ3_K_S = 11, kQ3_K_M = 12, kQ3_K_L = 13, kQ4_K_S = 14, kQ4_K_M = 15, kQ5_K_S = 16,
    kQ5_K_M = 17, kQ6_K = 18, kBF16 = 32,
};

constexpr std::array<QuantMix, 17> kMixes = {{
    {"q4_0", kQ4_0, DType::q4_0},     {"q4_1", kQ4_1, DType::q4_1},     {"q5_0", kQ5_0, DType::q5_0},
    {"q5_1", kQ5_1, DType::q5_1},     {"q8_0", kQ8_0, DType::q8_0},     {"q2_k", kQ2_K, DType::q2_k},
    {"q3_k_s", kQ3_K_S, DType::q3_k}, {"q3_k_m", kQ3_K_M, DType::q3_k}, {"q3_k_l", kQ3_K_L, DType::q3_k},
    {"q4_k_s", kQ4_K_S, DType::q4_k}, {"q4_k_m", kQ4_K_M, DType::q4_k}, {"q5_k_s", kQ5_K_S, DType::q5_k},
    {"q5_k_m", kQ5_K_M, DType::q5_k}, {"q6_k", kQ6_K, DType::q6_k},     {"f16", kF16, DType::f16},
    {"bf16", kBF16, DType::bf16},     {"f32", kAllF32, DType::f32},
}};

// llama-quantize's aliases.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kAliases = {{
    {"q3_k", "q3_k_m"}, {"q4_k", "q4_k_m"}, {"q5_k", "q5_k_m"},
}};

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

int layer_index(std::string_view name) {
    int layer = -1;
    if (std::sscanf(std::string(name).c_str(), "blk.%d.", &layer) != 1) return -1;
    return layer;
}

// The layers that get more bits in the _M mixes: the first and last eighth, and every third between.
bool use_more_bits(int layer, int n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// When a row length is not a multiple of the chosen type's block, llama.cpp substitutes a
// 32-block type of similar size.
std::optional<DType> fallback_for(DType t) {
    switch (t) {
        case DType::q2_k:
        case DType::q3_k: return DType::iq4_nl;
        case DType::q4_k: return DType::q5_0;
        case DType::q5_k: return DType::q5_1;
        case DType::q6_k: return DType::q8_0;
        default: return std::nullopt;
    }
}

DType recipe_type(const QuantMix& mix, const ModelFacts& m, std::string_view name, int64_t row_length) {
    const int ft = mix.file_type;
    DType t = mix.base;
    const bool falcon = m.arch == "falcon";
    const int n_gqa = m.n_head_kv > 0 ? m.n_head / m.n_head_kv : 1;
    const int layer = std::max(0, layer_index(name));
    const int n_layer = std::max(1, m.n_layer);

    // The output projection (or the tied embedding that serves as one) keeps 6 bits.
    if (name == "output.weight" || (!m.has_output && name == "token_embd.weight")) {
        if (falcon || row_length % traits(t).block_size != 0) return DType::q8_0;
        return t != DType::q8_0 ? DType::q6_k : t;
    }
    if (name == "token_embd.weight") return t;
    if (contains(name, "attn_v.weight")) {
        if (ft == kQ2_K) t = n_gqa >= 4 ? DType::q4_k : DType::q3_k;
        else if (ft == kQ3_K_M) t = layer < 2 ? DType::q5_k : DType::q4_k;
        else if (ft == kQ3_K_L) t = DType::q5_k;
        else if ((ft == kQ4_K_M || ft == kQ5_K_M) && use_more_bits(layer, n_layer)) t = DType::q6_k;
        else if (ft == kQ4_K_S && layer < 4) t = DType::q5_k;
        // llama.cpp's 70B models (80 layers with grouped-query attention) share attn_v across 8 heads.
        const bool is_70b = m.n_layer == 80 && m.n_head != m.n_head_kv;
        if (is_70b && (t == DType::q3_k || t == DType::q4_k)) t = DType::q5_k;
        if (m.n_expert == 8) t = DType::q8_0;
        return t;
    }
    if (contains(name, "attn_k.weight")) return m.n_expert == 8 ? DType::q8_0 : t;
    if (contains(name, "ffn_down")) {
        if (ft == kQ2_K) t = DType::q3_k;
        else if (ft == kQ3_K_M)
            t = layer < n_layer / 16 ? DType::q5_k : (!falcon || use_more_bits(layer, n_layer)) ? DType::q4_k : DType::q3_k;
        else if (ft == kQ3_K_L) t = falcon ? DType::q4_k : DType::q5_k;
        else if (ft == kQ4_K_M) {
            if (falcon) t = layer < n_layer / 16 ? DType::q6_k : use_more_bits(layer, n_layer) ? DType::q5_k : DType::q4_k;
            else if (use_more_bits(layer, n_layer)) t = DType::q6_k;
        } else if (ft == kQ5_K_M && use_more_bits(layer, n_layer)) t = DType::q6_k;
        else if (ft == kQ4_K_S && !falcon && layer < n_layer / 8) t = DType::q5_k;
        return t;
    }
    if (contains(name, "attn_output.weight")) {
        if (falcon) return ft == kQ3_K_L ? DType::q4_k : t;
        if (m.n_expert == 8)
            return (ft == kQ2_K || ft == kQ3_K_S || ft == kQ3_K_M || ft == kQ4_K_S || ft == kQ4_K_M) ? DType::q5_k : t;
        if (ft == kQ2_K) return DType::q3_k;
        if (ft == kQ3_K_M) return DType::q4_k;
        if (ft == kQ3_K_L) return DType::q5_k;
        return t;
    }
    if (contains(name, "attn_qkv.weight")) {
        if (ft == kQ3_K_M || ft == kQ3_K_L) return DType::q4_k;
        if (ft == kQ4_K_M) return DType::q5_k;
        if (ft == kQ5_K_M) return DType::q6_k;
    }
    return t;
}

}  // namespace

std::optional<QuantMix> find_mix(std::string_view name) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const auto& [alias, target] : kAliases)
        if (lower == alias) lower = target;
    for (const auto& mix : kMixes)
        if (mix.name == lower) return mix;
    return std::nullopt;
}

std::vector<std::string_view> mix_names() {
    std::vector<std::string_view> names;
    for (const auto& mix : kMixes) names.push_back(mix.name);
    for (const auto& alias : kAliases) names.push_back(alias.first);
    return names;
}

bool is_quantizable(std::string_view name, int n_dims) {
    if (n_dims < 2) return false;
    if (name.size() < 6 || name.substr(name.size() - 6) != "weight") return false;
    for (std::string_view kept : {"_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight", "time_mix_first.weight",
                                  "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_decay_w1.weight",
                                  "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight"})
        if (contains(name, kept)) return false;
    return name != "position_embd.weight" && name != "token_types.weight";
}

TensorChoice choose_type(const QuantMix& mix, const ModelFacts& facts, std::string_view name, int64_t row_length) {
    if (!is_quantized(mix.base)) return {mix.base, false};
    const DType chosen = recipe_type(mix, facts, name, row_length);
    if (row_length % traits(chosen).block_size == 0) return {chosen, false};
    const auto fallback = fallback_for(chosen);
    if (!fallback)
        fail("tensor '{}': row length {} is not a multiple of the {} block size {}", name, row_length,
             traits(chosen).name, traits(chosen).block_size);
    if (row_length % traits(*fallback).block_size != 0) return {DType::f16, true};
    return {*fallback, true};
}

}  // namespace slm::quant
