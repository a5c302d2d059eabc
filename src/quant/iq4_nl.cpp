// Reference quantize/dequantize of iq4_nl: blocks of 32 with one f16 scale and 4-bit indices into
// a fixed non-linear table. llama.cpp uses it as the fallback of q2_k/q3_k for rows that are not a
// multiple of 256. Quantize is bit-exact with ggml's quantize_iq4_nl (what llama-quantize runs):
// a scale search over 15 candidates under x^2 weights, then the nearest table entry per value.
#include "quant/exact_float.h"
#include "quant/blocks.h"
#include "quant/scale_search.h"

#include <slm/half.h>

#include <cmath>

namespace slm::quant {
namespace {

constexpr const int8_t (&kLevels)[16] = kIq4NlLevels;
constexpr int kSearchSteps = 7;  // candidates (k + levels[0]) / max for k in [-7, 7]

// Index of the nearest level (ties to the upper one), clamped to the table's ends.
int nearest_level(float v) {
    if (v <= float(kLevels[0])) return 0;
    if (v >= float(kLevels[15])) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < float(kLevels[mid])) hi = mid;
        else lo = mid;
    }
    return v - float(kLevels[hi - 1]) < float(kLevels[hi]) - v ? hi - 1 : hi;
}

// Weighted sums for the levels that scaling by `inv_scale` selects (weights x^2).
void level_sums(const float* x, float inv_scale, float& sumqx, float& sumq2) {
    sumqx = sumq2 = 0;
    for (int j = 0; j < QK; ++j) {
        const float q = float(kLevels[nearest_level(inv_scale * x[j])]);
        const float w = x[j] * x[j];
        sumqx += w * q * x[j];
        sumq2 += w * q * q;
    }
}

float best_scale(const float* x) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK; ++j)
        if (std::fabs(x[j]) > amax) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    if (amax < kGroupMaxEps) return 0.0f;
    // Start with the extreme value on the table's most negative level.
    float d = -max / float(kLevels[0]);
    float sumqx, sumq2;
    level_sums(x, 1 / d, sumqx, sumq2);
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int step = -kSearchSteps; step <= kSearchSteps; ++step) {
        level_sums(x, float(step + kLevels[0]) / max, sumqx, sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

}  // namespace

void quantize_iq4_nl(const float* src, void* dst, int64_t n) {
    auto* blocks = static_cast<BlockIQ4_NL*>(dst);
    for (int64_t i = 0; i < n / QK; ++i) {
        const float* x = src + i * QK;
        const float d = best_scale(x);
        const float id = d != 0 ? 1 / d : 0.0f;
        blocks[i].d = f32_to_f16(d);
        for (int j = 0; j < QK / 2; ++j)
            blocks[i].qs[j] = uint8_t(nearest_level(id * x[j]) | (nearest_level(id * x[j + QK / 2]) << 4));
    }
}

void dequantize_iq4_nl(const void* src, float* dst, int64_t n) {
    const auto* blocks = static_cast<const BlockIQ4_NL*>(src);
    for (int64_t i = 0; i < n / QK; ++i) {
        const float d = f16_to_f32(blocks[i].d);
        for (int j = 0; j < QK / 2; ++j) {
            dst[i * QK + j] = d * float(kLevels[blocks[i].qs[j] & 0x0f]);
            dst[i * QK + j + QK / 2] = d * float(kLevels[blocks[i].qs[j] >> 4]);
        }
    }
}

}  // namespace slm::quant
