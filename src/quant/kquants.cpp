// Reference quantize/dequantize of the k-quants (q2_k q3_k q4_k q5_k q6_k q8_k): 256-element
// super-blocks of 16 or 32-element groups with quantized per-group scales. Bit-exact with ggml's
// quantize_row_*_ref / dequantize_row_* (the scale searches are in scale_search.cpp).
#include "quant/exact_float.h"
#include "quant/blocks.h"
#include "quant/scale_search.h"

#include <slm/half.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace slm::quant {
namespace {

// --- Bit layouts shared by several types -------------------------------------------------------

// 2-bit planes (q2_k, q3_k low bits): in each half of 128 elements, byte l of the half's 32 holds
// elements l, l+32, l+64, l+96 at bit offsets 0, 2, 4, 6.
int two_bit_level(const uint8_t* qs, int e) {
    const int half = e / 128, plane = (e % 128) / 32, l = e % 32;
    return (qs[half * 32 + l] >> (2 * plane)) & 3;
}
void pack_two_bit(const uint8_t* levels, uint8_t* qs) {
    for (int half = 0; half < 2; ++half)
        for (int l = 0; l < 32; ++l) {
            const uint8_t* L = levels + half * 128 + l;
            qs[half * 32 + l] = uint8_t(L[0] | (L[32] << 2) | (L[64] << 4) | (L[96] << 6));
        }
}

// One high bit per element (q3_k hmask, q5_k qh): element e is bit e / 32 of byte e % 32.
int high_bit(const uint8_t* bits, int e) { return (bits[e % 32] >> (e / 32)) & 1; }

// 4-bit nibbles (q4_k, q5_k low bits): in each 64-element chunk, byte l of the chunk's 32 holds
// element l in its low nibble and element l + 32 in its high nibble.
int nibble_level(const uint8_t* qs, int e) {
    const int chunk = e / 64, l = e % 32;
    return (qs[chunk * 32 + l] >> (e % 64 >= 32 ? 4 : 0)) & 0x0f;
}

// q4_k/q5_k scales: eight 6-bit scales and eight 6-bit minimums in 12 bytes. Bytes 0-3 hold
// scales 0-3 (low 6 bits) and the top 2 bits of scales 4-7; bytes 4-7 the same for minimums;
// bytes 8-11 the low nibbles of scale (low) and minimum (high) 4-7.
void scale_min_k4(int j, const uint8_t* q, int& scale, int& min) {
    if (j < 4) {
        scale = q[j] & 63;
        min = q[j + 4] & 63;
    } else {
        scale = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}
void pack_scale_min_k4(const uint8_t scales[8], const uint8_t mins[8], uint8_t q[12]) {
    for (int j = 0; j < 4; ++j) {
        q[j] = uint8_t(scales[j] | ((scales[j + 4] >> 4) << 6));
        q[j + 4] = uint8_t(mins[j] | ((mins[j + 4] >> 4) << 6));
        q[j + 8] = uint8_t((scales[j + 4] & 0x0f) | ((mins[j + 4] & 0x0f) << 4));
    }
}

// q3_k scales: sixteen 6-bit values in 12 bytes. Low nibbles: scale j < 8 in byte j's low
// nibble, j >= 8 in byte j-8's high nibble; high 2 bits of scale j at bit 2*(j/4) of byte 8 + j%4.
int q3k_scale(const uint8_t* q, int j) {
    const int low = j < 8 ? q[j] & 0x0f : q[j - 8] >> 4;
    const int high = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
    return low | (high << 4);
}
void pack_q3k_scales(const uint8_t scales[16], uint8_t q[12]) {
    std::memset(q, 0, 12);
    for (int j = 0; j < 16; ++j) {
        q[j % 8] |= uint8_t((scales[j] & 0x0f) << (j < 8 ? 0 : 4));
        q[8 + j % 4] |= uint8_t((scales[j] >> 4) << (2 * (j / 4)));
    }
}

// q6_k: in each half of 128 elements, element l + 32*plane (plane 0..3) keeps its low nibble in
// ql[64*half + l + 32*(plane&1)] (low nibble for planes 0-1, high for 2-3) and its top 2 bits in
// qh[32*half + l] at bit 2*plane.
int q6k_level(const uint8_t* ql, const uint8_t* qh, int e) {
    const int half = e / 128, plane = (e % 128) / 32, l = e % 32;
    const int low = (ql[64 * half + l + 32 * (plane & 1)] >> (4 * (plane >> 1))) & 0x0f;
    const int high = (qh[32 * half + l] >> (2 * plane)) & 3;
    return low | (high << 4);
}

template <class Block>
const Block* blocks_of(const void* p) { return static_cast<const Block*>(p); }

// --- q2_k --------------------------------------------------------------------------------------

void dequantize_q2k_block(const BlockQ2_K& b, float* y) {
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    for (int e = 0; e < QK_K; ++e) {
        const uint8_t sc = b.scales[e / 16];
        const float dl = d * float(sc & 0x0f), ml = dmin * float(sc >> 4);
        y[e] = dl * float(two_bit_level(b.qs, e)) - ml;
    }
}

// Groups of 16 with a 4-bit scale and 4-bit minimum each, both relative to f16 super-scales.
void quantize_q2k_block(const float* x, BlockQ2_K& b) {
    uint8_t L[QK_K], scratch[16];
    float weights[16], scales[16], mins[16];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
        scales[j] = fit_affine(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], scratch, -0.5f, 0.1f, 15, true);
        max_scale = std::max(max_scale, scales[j]);
        max_min = std::max(max_min, mins[j]);
    }
    constexpr float kLevels = 15.0f;
    std::memset(b.scales, 0, sizeof b.scales);
    b.d = f32_to_f16(0.0f);
    b.dmin = f32_to_f16(0.0f);
    if (max_scale > 0) {
        const float iscale = kLevels / max_scale;
        for (int j = 0; j < 16; ++j) b.scales[j] = uint8_t(nearest_int(iscale * scales[j]));
        b.d = f32_to_f16(max_scale / kLevels);
    }
    if (max_min > 0) {
        const float iscale = kLevels / max_min;
        for (int j = 0; j < 16; ++j) b.scales[j] = uint8_t(b.scales[j] | (nearest_int(iscale * mins[j]) << 4));
        b.dmin = f32_to_f16(max_min / kLevels);
    }
    // Re-derive the levels against the scales as stored (quantized), where the scale is non-zero.
    for (int j = 0; j < 16; ++j) {
        const float d = f16_to_f32(b.d) * float(b.scales[j] & 0x0f);
        if (d == 0) continue;
        const float dm = f16_to_f32(b.dmin) * float(b.scales[j] >> 4);
        for (int l = 0; l < 16; ++l)
            L[16 * j + l] = uint8_t(std::clamp(nearest_int((x[16 * j + l] + dm) / d), 0, 3));
    }
    pack_two_bit(L, b.qs);
}

// --- q3_k --------------------------------------------------------------------------------------

void dequantize_q3k_block(const BlockQ3_K& b, float* y) {
    const float d = f16_to_f32(b.d);
    for (int e = 0; e < QK_K; ++e) {
        const float dl = d * float(q3k_scale(b.scales, e / 16) - 32);
        const int q = two_bit_level(b.qs, e) - (high_bit(b.hmask, e) ? 0 : 4);
        y[e] = dl * float(q);
    }
}

// Groups of 16 with signed 6-bit scales relative to one f16 super-scale; levels -4..3.
void quantize_q3k_block(const float* x, BlockQ3_K& b) {
    int8_t L[QK_K];
    float scales[16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
        scales[j] = fit_symmetric_descent(16, 4, x + 16 * j, L + 16 * j);
        if (std::fabs(scales[j]) > amax) {
            amax = std::fabs(scales[j]);
            max_scale = scales[j];
        }
    }
    uint8_t packed_scales[16] = {};
    b.d = f32_to_f16(0.0f);
    if (max_scale != 0) {
        const float iscale = -32.0f / max_scale;
        for (int j = 0; j < 16; ++j) {
            const int8_t l = int8_t(nearest_int(iscale * scales[j]));  // ggml narrows before clamping
            packed_scales[j] = uint8_t(std::clamp<int>(l, -32, 31) + 32);
        }
        b.d = f32_to_f16(1 / iscale);
    }
    pack_q3k_scales(packed_scales, b.scales);
    for (int j = 0; j < 16; ++j) {
        const float d = f16_to_f32(b.d) * float(int8_t(q3k_scale(b.scales, j) - 32));
        if (d == 0) continue;
        for (int l = 0; l < 16; ++l)
            L[16 * j + l] = int8_t(std::clamp(nearest_int(x[16 * j + l] / d), -4, 3) + 4);
    }
    uint8_t low[QK_K];
    std::memset(b.hmask, 0, sizeof b.hmask);
    for (int e = 0; e < QK_K; ++e) {
        int level = L[e];
        if (level > 3) {
            b.hmask[e % 32] = uint8_t(b.hmask[e % 32] | (1 << (e / 32)));
            level -= 4;
        }
        low[e] = uint8_t(level);
    }
    pack_two_bit(low, b.qs);
}

// --- q4_k and q5_k -----------------------------------------------------------------------------

// Groups of 32 with 6-bit scales and minimums relative to f16 super-scale and super-minimum.
// The two types differ in level count (and the 5th bit's storage) and in the search's range.
template <class Block, int Bits>
struct AffineK {
    static constexpr int kMaxLevel = (1 << Bits) - 1;
    static constexpr float kSearchStart = Bits == 4 ? -1.0f : -0.5f;
    static constexpr int kSearchSteps = Bits == 4 ? 20 : 15;

    static int level(const Block& b, int e) {
        int q = nibble_level(b.qs, e);
        if constexpr (Bits == 5) q += high_bit(b.qh, e) ? 16 : 0;
        return q;
    }

    static void dequantize_block(const Block& b, float* y) {
        const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
        for (int e = 0; e < QK_K; ++e) {
            int sc, m;
            scale_min_k4(e / 32, b.scales, sc, m);
            y[e] = d * float(sc) * float(level(b, e)) - dmin * float(m);
        }
    }

    static void quantize_block(const float* x, Block& b) {
        uint8_t L[QK_K], scratch[32];
        float weights[32], scales[8], mins[8];
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; ++j) {
            const float* g = x + 32 * j;
            // Weights favour large elements over the group's rms.
            float sum_x2 = 0;
            for (int l = 0; l < 32; ++l) sum_x2 += g[l] * g[l];
            const float rms = std::sqrt(sum_x2 / 32);
            for (int l = 0; l < 32; ++l) weights[l] = rms + std::fabs(g[l]);
            scales[j] = fit_affine(32, kMaxLevel, g, weights, L + 32 * j, &mins[j], scratch, kSearchStart, 0.1f,
                                   kSearchSteps, false);
            max_scale = std::max(max_scale, scales[j]);
            max_min = std::max(max_min, mins[j]);
        }
        const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
        const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
        uint8_t qscales[8], qmins[8];
        for (int j = 0; j < 8; ++j) {
            // ggml narrows to uint8 before clamping to 63.
            qscales[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
            qmins[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
        }
        pack_scale_min_k4(qscales, qmins, b.scales);
        b.d = f32_to_f16(max_scale / 63.0f);
        b.dmin = f32_to_f16(max_min / 63.0f);
        for (int j = 0; j < 8; ++j) {
            int sc, m;
            scale_min_k4(j, b.scales, sc, m);
            const float d = f16_to_f32(b.d) * float(sc);
            if (d == 0) continue;
            const float dm = f16_to_f32(b.dmin) * float(m);
            for (int l = 0; l < 32; ++l)
                L[32 * j + l] = uint8_t(std::clamp(nearest_int((x[32 * j + l] + dm) / d), 0, kMaxLevel));
        }
        if constexpr (Bits == 5) std::memset(b.qh, 0, sizeof b.qh);
        for (int chunk = 0; chunk < 4; ++chunk)
            for (int l = 0; l < 32; ++l) {
                const int e = 64 * chunk + l;
                int lo = L[e], hi = L[e + 32];
                if constexpr (Bits == 5) {
                    // The 5th bit of element e goes to bit e / 32 of qh[e % 32].
                    if (lo > 15) { lo -= 16; b.qh[l] = uint8_t(b.qh[l] | (1 << (2 * chunk))); }
                    if (hi > 15) { hi -= 16; b.qh[l] = uint8_t(b.qh[l] | (1 << (2 * chunk + 1))); }
                }
                b.qs[32 * chunk + l] = uint8_t(lo | (hi << 4));
            }
    }
};
using Q4K = AffineK<BlockQ4_K, 4>;
using Q5K = AffineK<BlockQ5_K, 5>;

// --- q6_k --------------------------------------------------------------------------------------

void dequantize_q6k_block(const BlockQ6_K& b, float* y) {
    const float d = f16_to_f32(b.d);
    for (int e = 0; e < QK_K; ++e)
        y[e] = d * float(b.scales[e / 16]) * float(q6k_level(b.ql, b.qh, e) - 32);
}

// Groups of 16 with signed 8-bit scales relative to one f16 super-scale; levels -32..31.
void quantize_q6k_block(const float* x, BlockQ6_K& b) {
    int8_t L[QK_K];
    float scales[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < 16; ++j) {
        scales[j] = fit_symmetric_weighted(16, 32, x + 16 * j, L + 16 * j);
        if (std::fabs(scales[j]) > max_abs_scale) {
            max_abs_scale = std::fabs(scales[j]);
            max_scale = scales[j];
        }
    }
    if (max_abs_scale < kGroupMaxEps) {
        std::memset(&b, 0, sizeof b);
        return;
    }
    const float iscale = -128.0f / max_scale;
    b.d = f32_to_f16(1 / iscale);
    for (int j = 0; j < 16; ++j) b.scales[j] = int8_t(std::min(127, nearest_int(iscale * scales[j])));
    for (int j = 0; j < 16; ++j) {
        const float d = f16_to_f32(b.d) * float(b.scales[j]);
        if (d == 0) continue;
        for (int l = 0; l < 16; ++l)
            L[16 * j + l] = int8_t(std::clamp(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
    }
    for (int half = 0; half < 2; ++half)
        for (int l = 0; l < 32; ++l) {
            const int8_t* q = L + 128 * half + l;  // planes at q[0], q[32], q[64], q[96]
            b.ql[64 * half + l] = uint8_t((q[0] & 0x0f) | ((q[64] & 0x0f) << 4));
            b.ql[64 * half + l + 32] = uint8_t((q[32] & 0x0f) | ((q[96] & 0x0f) << 4));
            b.qh[32 * half + l] = uint8_t((q[0] >> 4) | ((q[32] >> 4) << 2) | ((q[64] >> 4) << 4) | ((q[96] >> 4) << 6));
        }
}

// --- q8_k (the activations' type for k-quant dot products) -------------------------------------

void dequantize_q8k_block(const BlockQ8_K& b, float* y) {
    for (int e = 0; e < QK_K; ++e) y[e] = b.d * float(b.qs[e]);
}

// f32 scale d = max / -127 (the signed extreme maps to -127), and per-16 sums of the levels.
void quantize_q8k_block(const float* x, BlockQ8_K& b) {
    float amax = 0, max = 0;
    for (int e = 0; e < QK_K; ++e)
        if (std::fabs(x[e]) > amax) {
            amax = std::fabs(x[e]);
            max = x[e];
        }
    std::memset(&b, 0, sizeof b);
    if (amax == 0) return;
    const float iscale = -127.0f / max;
    for (int e = 0; e < QK_K; ++e) b.qs[e] = int8_t(std::min(127, nearest_int(iscale * x[e])));
    for (int j = 0; j < QK_K / 16; ++j) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += b.qs[16 * j + l];
        b.bsums[j] = int16_t(sum);
    }
    b.d = 1 / iscale;
}

// Row helpers: every k-quant row is a run of independent 256-element super-blocks.
template <class Block, void (*Fn)(const Block&, float*)>
void dequantize_rows(const void* src, float* dst, int64_t n) {
    const Block* b = blocks_of<Block>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) Fn(b[i], dst + i * QK_K);
}
template <class Block, void (*Fn)(const float*, Block&)>
void quantize_rows(const float* src, void* dst, int64_t n) {
    Block* b = static_cast<Block*>(dst);
    for (int64_t i = 0; i < n / QK_K; ++i) Fn(src + i * QK_K, b[i]);
}

}  // namespace

void dequantize_q2_k(const void* s, float* d, int64_t n) { dequantize_rows<BlockQ2_K, dequantize_q2k_block>(s, d, n); }
void quantize_q2_k(const float* s, void* d, int64_t n) { quantize_rows<BlockQ2_K, quantize_q2k_block>(s, d, n); }
void dequantize_q3_k(const void* s, float* d, int64_t n) { dequantize_rows<BlockQ3_K, dequantize_q3k_block>(s, d, n); }
void quantize_q3_k(const float* s, void* d, int64_t n) { quantize_rows<BlockQ3_K, quantize_q3k_block>(s, d, n); }
void dequantize_q4_k(const void* s, float* d, int64_t n) { dequantize_rows<BlockQ4_K, Q4K::dequantize_block>(s, d, n); }
void quantize_q4_k(const float* s, void* d, int64_t n) { quantize_rows<BlockQ4_K, Q4K::quantize_block>(s, d, n); }
void dequantize_q5_k(const void* s, float* d, int64_t n) { dequantize_rows<BlockQ5_K, Q5K::dequantize_block>(s, d, n); }
void quantize_q5_k(const float* s, void* d, int64_t n) { quantize_rows<BlockQ5_K, Q5K::quantize_block>(s, d, n); }
void dequantize_q6_k(const void* s, float* d, int64_t n) { dequantize_rows<BlockQ6_K, dequantize_q6k_block>(s, d, n); }
void quantize_q6_k(const float* s, void* d, int64_t n) { quantize_rows<BlockQ6_K, quantize_q6k_block>(s, d, n); }
void dequantize_q8_k(const void* s, float* d, int64_t n) { dequantize_rows<BlockQ8_K, dequantize_q8k_block>(s, d, n); }
void quantize_q8_k(const float* s, void* d, int64_t n) { quantize_rows<BlockQ8_K, quantize_q8k_block>(s, d, n); }

}  // namespace slm::quant
