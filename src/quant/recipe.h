// Quantization recipes ("mixes"): which type each tensor of a model gets for a target such as
// q4_k_m, following llama.cpp's llama_tensor_get_type rules (b4748) for dense decoder models, so
// that `slm quantize` makes the same choices as `llama-quantize` (same tensors, same types).
#pragma once

#include <slm/dtype.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slm::quant {

// A target as users name it. `file_type` is llama.cpp's llama_ftype, written as general.file_type.
struct QuantMix {
    std::string_view name;   // "q4_k_m"
    int file_type;           // LLAMA_FTYPE_MOSTLY_*
    DType base;              // the type most weight matrices get
};

// Looks up a mix by name (case-insensitive; "q4_k" means q4_k_m, "q3_k" q3_k_m, "q5_k" q5_k_m as in
// llama-quantize). nullopt when unknown.
std::optional<QuantMix> find_mix(std::string_view name);
// The names find_mix accepts, for help texts.
std::vector<std::string_view> mix_names();

// What the recipe needs to know about the model (from GGUF metadata).
struct ModelFacts {
    std::string arch;        // general.architecture
    int n_layer = 0;         // {arch}.block_count
    int n_head = 0;          // {arch}.attention.head_count
    int n_head_kv = 0;       // {arch}.attention.head_count_kv (n_head when absent)
    int n_expert = 0;        // {arch}.expert_count
    bool has_output = false; // an output.weight tensor exists (else embeddings are tied)
};

struct TensorChoice {
    DType type;              // the type to store
    bool fallback = false;   // the recipe's type did not fit the row length
};

// Whether llama.cpp quantizes a tensor at all: weights of 2+ dimensions except norms, MoE gating
// inputs, position/token-type embeddings and a few architecture-specific small tensors.
bool is_quantizable(std::string_view name, int n_dims);

// The type for one quantizable tensor; `row_length` is the innermost dimension (GGUF ne[0]).
// Layer-dependent rules use the `blk.N.` index of the name. Throws slm::Error when no type in
// the fallback chain fits the row length.
TensorChoice choose_type(const QuantMix& mix, const ModelFacts& facts, std::string_view name, int64_t row_length);

}  // namespace slm::quant
