// Reference quantize/dequantize of the legacy 32-element block types q4_0 q4_1 q5_0 q5_1 q8_0
// q8_1: the scalar truth the fast kernels are tested against, bit-exact with ggml's *_ref rules.
#include "quant/exact_float.h"
#include "quant/blocks.h"

#include <slm/half.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace slm::quant {
namespace {

// The 4/5-bit types share one layout: element j < 16 in the low nibble of qs[j], element j + 16
// in its high nibble, and (5-bit types) the fifth bit of element j as bit j of the 32-bit qh.
// "Symmetric" types store q - 2^(bits-1) times d; "affine" ones q times d plus the minimum m.
template <class Block, int Bits, bool Affine>
struct NibbleFormat {
    static constexpr int kLevels = 1 << Bits;
    static constexpr bool kHasHighBits = Bits == 5;

    static void unpack(const Block& b, int q[QK]) {
        uint32_t high = 0;
        if constexpr (kHasHighBits) std::memcpy(&high, b.qh, 4);
        for (int j = 0; j < QK / 2; ++j) {
            q[j] = b.qs[j] & 0x0f;
            q[j + QK / 2] = b.qs[j] >> 4;
        }
        if constexpr (kHasHighBits)
            for (int j = 0; j < QK; ++j) q[j] |= int((high >> j) & 1) << 4;
    }

    static void pack(const int q[QK], Block& b) {
        for (int j = 0; j < QK / 2; ++j) b.qs[j] = uint8_t((q[j] & 0x0f) | ((q[j + QK / 2] & 0x0f) << 4));
        if constexpr (kHasHighBits) {
            uint32_t high = 0;
            for (int j = 0; j < QK; ++j) high |= uint32_t((q[j] >> 4) & 1) << j;
            std::memcpy(b.qh, &high, 4);
        }
    }

    static void dequantize(const void* src, float* dst, int64_t n) {
        const auto* blocks = static_cast<const Block*>(src);
        int q[QK];
        for (int64_t i = 0; i < n / QK; ++i) {
            const Block& b = blocks[i];
            unpack(b, q);
            const float d = f16_to_f32(b.d);
            float* y = dst + i * QK;
            if constexpr (Affine) {
                const float m = f16_to_f32(b.m);
                for (int j = 0; j < QK; ++j) y[j] = float(q[j]) * d + m;
            } else {
                for (int j = 0; j < QK; ++j) y[j] = float(q[j] - kLevels / 2) * d;
            }
        }
    }

    // ggml's rules. Symmetric: the signed value of largest magnitude maps to level 0, so
    // d = max / -2^(bits-1); affine: d spans [min, max] in 2^bits - 1 steps. Levels are
    // truncations of x/d + offset + 0.5 computed in two float roundings (no fused multiply-add).
    static void quantize(const float* src, void* dst, int64_t n) {
        auto* blocks = static_cast<Block*>(dst);
        int q[QK];
        for (int64_t i = 0; i < n / QK; ++i) {
            const float* x = src + i * QK;
            Block& b = blocks[i];
            float d, offset, bias;
            if constexpr (Affine) {
                float lo = FLT_MAX, hi = -FLT_MAX;
                for (int j = 0; j < QK; ++j) {
                    lo = std::min(lo, x[j]);
                    hi = std::max(hi, x[j]);
                }
                d = (hi - lo) / float(kLevels - 1);
                offset = lo;
                bias = 0.5f;
                b.m = f32_to_f16(lo);
            } else {
                float amax = 0, signed_max = 0;
                for (int j = 0; j < QK; ++j) {
                    if (amax < std::fabs(x[j])) {
                        amax = std::fabs(x[j]);
                        signed_max = x[j];
                    }
                }
                d = signed_max / float(-kLevels / 2);
                offset = 0;
                bias = float(kLevels / 2) + 0.5f;
            }
            const float id = d != 0 ? 1.0f / d : 0.0f;
            b.d = f32_to_f16(d);
            for (int j = 0; j < QK; ++j) {
                const float scaled = Affine ? (x[j] - offset) * id : x[j] * id;
                q[j] = std::min(kLevels - 1, int(scaled + bias));
            }
            pack(q, b);
        }
    }
};

using Q4_0 = NibbleFormat<BlockQ4_0, 4, false>;
using Q4_1 = NibbleFormat<BlockQ4_1, 4, true>;
using Q5_0 = NibbleFormat<BlockQ5_0, 5, false>;
using Q5_1 = NibbleFormat<BlockQ5_1, 5, true>;

// q8_0 and q8_1: d = amax / 127, q = round(x / d) half away from zero; q8_1 also keeps
// s = d * sum(q) for the dot products that subtract a minimum.
template <class Block>
void quantize_q8(const float* src, void* dst, int64_t n) {
    auto* blocks = static_cast<Block*>(dst);
    for (int64_t i = 0; i < n / QK; ++i) {
        const float* x = src + i * QK;
        Block& b = blocks[i];
        float amax = 0;
        for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        b.d = f32_to_f16(d);
        int sum = 0;
        for (int j = 0; j < QK; ++j) {
            b.qs[j] = int8_t(std::round(x[j] * id));
            sum += b.qs[j];
        }
        if constexpr (std::is_same_v<Block, BlockQ8_1>) b.s = f32_to_f16(float(sum) * d);
    }
}

template <class Block>
void dequantize_q8(const void* src, float* dst, int64_t n) {
    const auto* blocks = static_cast<const Block*>(src);
    for (int64_t i = 0; i < n / QK; ++i) {
        const float d = f16_to_f32(blocks[i].d);
        for (int j = 0; j < QK; ++j) dst[i * QK + j] = float(blocks[i].qs[j]) * d;
    }
}

}  // namespace

void dequantize_q4_0(const void* src, float* dst, int64_t n) { Q4_0::dequantize(src, dst, n); }
void quantize_q4_0(const float* src, void* dst, int64_t n) { Q4_0::quantize(src, dst, n); }
void dequantize_q4_1(const void* src, float* dst, int64_t n) { Q4_1::dequantize(src, dst, n); }
void quantize_q4_1(const float* src, void* dst, int64_t n) { Q4_1::quantize(src, dst, n); }
void dequantize_q5_0(const void* src, float* dst, int64_t n) { Q5_0::dequantize(src, dst, n); }
void quantize_q5_0(const float* src, void* dst, int64_t n) { Q5_0::quantize(src, dst, n); }
void dequantize_q5_1(const void* src, float* dst, int64_t n) { Q5_1::dequantize(src, dst, n); }
void quantize_q5_1(const float* src, void* dst, int64_t n) { Q5_1::quantize(src, dst, n); }
void dequantize_q8_0(const void* src, float* dst, int64_t n) { dequantize_q8<BlockQ8_0>(src, dst, n); }
void quantize_q8_0(const float* src, void* dst, int64_t n) { quantize_q8<BlockQ8_0>(src, dst, n); }
void dequantize_q8_1(const void* src, float* dst, int64_t n) { dequantize_q8<BlockQ8_1>(src, dst, n); }
void quantize_q8_1(const float* src, void* dst, int64_t n) { quantize_q8<BlockQ8_1>(src, dst, n); }

}  // namespace slm::quant
