// The 8-bit forms activations are quantized to before integer dot products with quantized weights
// (as llama.cpp's q8_0 / q8_K): one f32 scale per block, and precomputed sums of the integers
// that let a weight's constant offset (q4_0's -8, k-quant mins, q6_k's -32) be applied once per
// block instead of per element.
#pragma once

#include <cstddef>
#include <cstdint>

namespace slm::kernels {

// For q8_0 and q4_0 weights: 32 elements, x ~ d * qs, sum = d * sum(qs).
struct ActBlock32 {
    float d;
    float sum;
    int8_t qs[32];
};

// For the k-quants: 256 elements, x ~ d * qs, bsums[g] = sum of qs[16g .. 16g+15].
struct ActBlock256 {
    float d;
    int16_t bsums[16];
    int8_t qs[256];
};

static_assert(sizeof(ActBlock32) == 40 && sizeof(ActBlock256) == 292);

// What a weight type's dot product wants its activations as.
enum class ActFormat { f32, q8_32, q8_256 };

// Bytes of one activation row of K elements in `format` (K a multiple of its block size).
size_t activation_row_bytes(ActFormat format, int64_t K);

// Converts one row of K floats to `format` at dst (for f32, a copy).
void quantize_activation_row(ActFormat format, const float* x, int64_t K, void* dst);

}  // namespace slm::kernels
