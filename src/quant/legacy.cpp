// Reference quantize/dequantize of the legacy 32-element block types q8_0 and q4_0 (and their
// siblings in the same file as they are added): the scalar truth the fast kernels are tested against.
#include "quant/blocks.h"

#include <slm/half.h>

#include <algorithm>
#include <cmath>

namespace slm::quant {

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ8_0*>(src);
    for (int64_t i = 0; i < n / QK; ++i) {
        const float d = f16_to_f32(b[i].d);
        for (int j = 0; j < QK; ++j) dst[i * QK + j] = d * float(b[i].qs[j]);
    }
}

// ggml's rule: d = amax / 127, q = round(x / d).
void quantize_q8_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_0*>(dst);
    for (int64_t i = 0; i < n / QK; ++i) {
        const float* x = src + i * QK;
        float amax = 0;
        for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < QK; ++j) b[i].qs[j] = int8_t(std::lround(x[j] * id));
    }
}

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ4_0*>(src);
    for (int64_t i = 0; i < n / QK; ++i) {
        const float d = f16_to_f32(b[i].d);
        for (int j = 0; j < QK / 2; ++j) {
            dst[i * QK + j] = d * float((b[i].qs[j] & 0x0f) - 8);
            dst[i * QK + j + QK / 2] = d * float((b[i].qs[j] >> 4) - 8);
        }
    }
}

// ggml's rule: the signed value of largest magnitude maps to -8, d = max / -8.
void quantize_q4_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ4_0*>(dst);
    for (int64_t i = 0; i < n / QK; ++i) {
        const float* x = src + i * QK;
        float amax = 0, max = 0;
        for (int j = 0; j < QK; ++j) {
            if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
        }
        const float d = max / -8.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < QK / 2; ++j) {
            const int q0 = std::min(15, int(x[j] * id + 8.5f));
            const int q1 = std::min(15, int(x[j + QK / 2] * id + 8.5f));
            b[i].qs[j] = uint8_t(q0 | (q1 << 4));
        }
    }
}

}  // namespace slm::quant
