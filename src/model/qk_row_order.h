// The q/k row order of llama-arch weights in GGUF: llama.cpp's converter permutes the rows of each
// head so that its rope pairs adjacent dimensions. Anything whose rows follow those weights' output
// rows (a LoRA B of q_proj/k_proj) must be permuted alike to be used with a GGUF llama base.
#pragma once

#include <slm/model_config.h>

#include <cstdint>
#include <vector>

namespace slm::model {

// True when the q/k rows of `files` are in llama.cpp's permuted order (a GGUF file of an
// architecture whose GGUF rope pairing differs from its HF one).
bool qk_rows_permuted(const ModelFiles& files);

// Moves whole rows of the row-major [rows, cols] matrix `m` within each head of `head_dim` rows:
// row (half j, index i) of a head goes to 2i + j (`to_gguf`), or back (`to_gguf` false).
std::vector<float> permute_head_rows(const std::vector<float>& m, int64_t rows, int64_t cols, int64_t head_dim,
                                     bool to_gguf);

}  // namespace slm::model
