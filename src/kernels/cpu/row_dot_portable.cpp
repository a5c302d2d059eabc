// Portable row dot products (plain C++, exact integer sums per block): the fallback on CPUs
// without AVX2 and the second opinion the AVX2 kernels are tested against.
#include "kernels/cpu/block32_formats.h"
#include "kernels/cpu/kquant_scales.h"
#include "kernels/cpu/row_dot.h"
#include "quant/blocks.h"

#include <slm/half.h>

namespace slm::kernels {
namespace {

using namespace quant;

// Element = scale * code + offset: the integer sum of codes x activations once per block, and
// the offset through the activation block's sum (x.sum = x.d * sum(x.qs)).
template <typename Format>
float block_dot_32(const typename Format::Block& w, const ActBlock32& x) {
    int q[32];
    Format::codes(w, q);
    int sum = 0;
    for (int i = 0; i < 32; ++i) sum += q[i] * int(x.qs[i]);
    const float d = f16_to_f32(w.d);
    float offset = float(Format::kCodeOffset) * d;
    if constexpr (Format::kAffine) offset = f16_to_f32(w.m);
    return d * x.d * float(sum) + offset * x.sum;
}

// q4_k / q5_k element of sub-block j = d * scale_j * q - dmin * min_j; the mins go through bsums.
template <bool kFifthBit, typename Block>
float block_dot_q45_k(const Block& w, const ActBlock256& x) {
    int sum_q = 0, sum_min = 0;
    for (int j = 0; j < 8; ++j) {
        uint8_t scale, min;
        kquant_scale_min(j, w.scales, &scale, &min);
        const uint8_t* qs = w.qs + (j / 2) * 32;
        const int shift = (j % 2) * 4;
        int sub = 0;
        for (int l = 0; l < 32; ++l) {
            int q = (qs[l] >> shift) & 15;
            if constexpr (kFifthBit) q |= ((w.qh[l] >> j) & 1) << 4;
            sub += q * int(x.qs[j * 32 + l]);
        }
        sum_q += int(scale) * sub;
        sum_min += int(min) * (x.bsums[2 * j] + x.bsums[2 * j + 1]);
    }
    return x.d * (f16_to_f32(w.d) * float(sum_q) - f16_to_f32(w.dmin) * float(sum_min));
}

// q6_k element = d * scale_g * (q - 32), q 6 bits from ql (low 4) and qh (high 2).
float block_dot_q6_k(const BlockQ6_K& w, const ActBlock256& x) {
    int sum = 0;
    for (int half = 0; half < 2; ++half) {
        const uint8_t* ql = w.ql + 64 * half;
        const uint8_t* qh = w.qh + 32 * half;
        for (int l = 0; l < 32; ++l) {
            const int q[4] = {(ql[l] & 15) | (((qh[l] >> 0) & 3) << 4), (ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4),
                              (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4), (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)};
            for (int part = 0; part < 4; ++part) {
                const int e = 128 * half + 32 * part + l;
                sum += int(w.scales[e / 16]) * (q[part] - 32) * int(x.qs[e]);
            }
        }
    }
    return f16_to_f32(w.d) * x.d * float(sum);
}

template <typename WBlock, typename ABlock, float (*BlockDot)(const WBlock&, const ABlock&)>
void dot_blocks(int64_t K, const void* w, const void* x, size_t x_stride, int R, float* out) {
    constexpr int64_t kBlock = sizeof(ABlock::qs);
    const auto* wb = static_cast<const WBlock*>(w);
    for (int r = 0; r < R; ++r) {
        const auto* xb = reinterpret_cast<const ABlock*>(static_cast<const uint8_t*>(x) + size_t(r) * x_stride);
        float sum = 0;
        for (int64_t b = 0; b < K / kBlock; ++b) sum += BlockDot(wb[b], xb[b]);
        out[r] = sum;
    }
}

template <typename Element, float (*ToF32)(Element)>
void dot_float(int64_t K, const void* w, const void* x, size_t x_stride, int R, float* out) {
    const auto* we = static_cast<const Element*>(w);
    for (int r = 0; r < R; ++r) {
        const auto* xr = reinterpret_cast<const float*>(static_cast<const uint8_t*>(x) + size_t(r) * x_stride);
        float sum = 0;
        for (int64_t k = 0; k < K; ++k) sum += ToF32(we[k]) * xr[k];
        out[r] = sum;
    }
}

float f32_identity(float v) { return v; }

template <typename Format>
constexpr RowDot block32_dot() {
    return {ActFormat::q8_32, dot_blocks<typename Format::Block, ActBlock32, block_dot_32<Format>>};
}

constexpr RowDotTable make_table() {
    RowDotTable t{};
    t[size_t(DType::f32)] = {ActFormat::f32, dot_float<float, f32_identity>};
    t[size_t(DType::f16)] = {ActFormat::f32, dot_float<uint16_t, f16_to_f32>};
    t[size_t(DType::bf16)] = {ActFormat::f32, dot_float<uint16_t, bf16_to_f32>};
    t[size_t(DType::q8_0)] = block32_dot<Q8_0Format>();
    t[size_t(DType::q4_0)] = block32_dot<Q4_0Format>();
    t[size_t(DType::q4_1)] = block32_dot<Q4_1Format>();
    t[size_t(DType::q5_0)] = block32_dot<Q5_0Format>();
    t[size_t(DType::q5_1)] = block32_dot<Q5_1Format>();
    t[size_t(DType::iq4_nl)] = block32_dot<IQ4_NLFormat>();
    t[size_t(DType::q4_k)] = {ActFormat::q8_256, dot_blocks<BlockQ4_K, ActBlock256, block_dot_q45_k<false, BlockQ4_K>>};
    t[size_t(DType::q5_k)] = {ActFormat::q8_256, dot_blocks<BlockQ5_K, ActBlock256, block_dot_q45_k<true, BlockQ5_K>>};
    t[size_t(DType::q6_k)] = {ActFormat::q8_256, dot_blocks<BlockQ6_K, ActBlock256, block_dot_q6_k>};
    return t;
}

constexpr RowDotTable kTable = make_table();

}  // namespace

const RowDotTable& row_dots_portable() { return kTable; }

}  // namespace slm::kernels
