// AVX2 + FMA + F16C row dot products. Integer types: u8 x s8 products with vpmaddubsw summed to
// int32 (vpmaddwd), one float multiply-add per block with the combined scale. Compiled for that
// target by the pragma below whatever the build flags; called only where isa_supported(avx2).
// Every non-intrinsic header comes before the pragma, so that no inline function shared with
// other translation units is compiled for AVX2 here.
#include "kernels/cpu/block32_formats.h"
#include "kernels/cpu/row_dot.h"
#include "quant/blocks.h"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__)
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include "kernels/cpu/block32_codes_avx2.h"
#endif


namespace slm::kernels {

#if defined(__x86_64__)
namespace {

using namespace quant;

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Sum of pairs of u8 x s8 products widened to 8 int32 lanes.
inline __m256i dot_u8_s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

template <typename ABlock>
inline const ABlock* act_row(const void* x, size_t stride, int r) {
    return reinterpret_cast<const ABlock*>(static_cast<const uint8_t*>(x) + size_t(r) * stride);
}

// The 32-element block types: per block, the integer dot of codes and activations (signed codes
// through |w| and sign(x, w), since vpmaddubsw wants one unsigned side), one float multiply-add
// with the combined scale, and the block's offset times the activation block's sum. Two
// accumulators per token alternate by block so that the FMA latency does not bound decode.
template <typename Format>
struct Block32Dot {
    template <int R>
    static void run(int64_t K, const void* w, const void* x, size_t stride, float* out) {
        const auto* wb = static_cast<const typename Format::Block*>(w);
        const ActBlock32* xr[R];
        __m256 acc[R][2];
        float offsets[R][2];
        for (int r = 0; r < R; ++r) {
            xr[r] = act_row<ActBlock32>(x, stride, r);
            acc[r][0] = acc[r][1] = _mm256_setzero_ps();
            offsets[r][0] = offsets[r][1] = 0;
        }
        auto step = [&](int64_t b, int parity) {
            const auto& blk = wb[b];
            const __m256i q = load_codes<Format>(blk);
            const float d = half_to_float(blk.d);
            const __m256 dw = _mm256_set1_ps(d);
            for (int r = 0; r < R; ++r) {
                const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr[r][b].qs));
                __m256i p;
                if constexpr (Format::kSignedCodes) p = dot_u8_s8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
                else p = dot_u8_s8(q, a);
                const __m256 scale = _mm256_mul_ps(dw, _mm256_broadcast_ss(&xr[r][b].d));
                acc[r][parity] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc[r][parity]);
            }
            if constexpr (!Format::kSignedCodes) {
                const float offset = block_offset<Format>(blk, d);
                for (int r = 0; r < R; ++r) offsets[r][parity] += offset * xr[r][b].sum;
            }
        };
        const int64_t nb = K / 32;
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2) step(b, 0), step(b + 1, 1);
        if (b < nb) step(b, 0);
        for (int r = 0; r < R; ++r) out[r] = hsum(_mm256_add_ps(acc[r][0], acc[r][1])) + (offsets[r][0] + offsets[r][1]);
    }
};

// The 8 scales of a q4_k/q5_k block to `scale`, and its 8 mins as 16 int16 lanes, each min twice
// ([m0, m0, m1, m1, ...]), ready for vpmaddwd with the activation's 16 group sums. The 12 bytes
// hold scales 0-3 and mins 0-3 in the low 6 bits of bytes 0-7, their high 2 bits topping up
// scales/mins 4-7, whose low 4 bits are the nibbles of bytes 8-11.
inline __m256i kquant_mins_pairs(const uint8_t* packed, uint8_t* scale) {
    uint32_t a, b, c;
    __builtin_memcpy(&a, packed, 4);
    __builtin_memcpy(&b, packed + 4, 4);
    __builtin_memcpy(&c, packed + 8, 4);
    const uint32_t scales_lo = a & 0x3f3f3f3fu, mins_lo = b & 0x3f3f3f3fu;
    const uint32_t scales_hi = (c & 0x0f0f0f0fu) | (((a >> 6) & 0x03030303u) << 4);
    const uint32_t mins_hi = ((c >> 4) & 0x0f0f0f0fu) | (((b >> 6) & 0x03030303u) << 4);
    __builtin_memcpy(scale, &scales_lo, 4);
    __builtin_memcpy(scale + 4, &scales_hi, 4);
    const __m128i mins8 = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, int(mins_hi), int(mins_lo)));
    return _mm256_set_m128i(_mm_unpackhi_epi16(mins8, mins8), _mm_unpacklo_epi16(mins8, mins8));
}

// q4_k and q5_k: per 64 elements, one 32-byte load of nibbles gives two sub-blocks.
template <bool kFifthBit, typename Block>
struct Q45KDot {
    template <int R>
    static void run(int64_t K, const void* w, const void* x, size_t stride, float* out) {
        const auto* wb = static_cast<const Block*>(w);
        const ActBlock256* xr[R];
        __m256 acc[R], acc_min[R];
        for (int r = 0; r < R; ++r) xr[r] = act_row<ActBlock256>(x, stride, r), acc[r] = acc_min[r] = _mm256_setzero_ps();
        const __m256i low4 = _mm256_set1_epi8(0x0f);
        for (int64_t b = 0; b < K / 256; ++b) {
            const Block& blk = wb[b];
            uint8_t scale[8];
            const __m256i mins = kquant_mins_pairs(blk.scales, scale);
            __m256i sum[R];
            for (int r = 0; r < R; ++r) sum[r] = _mm256_setzero_si256();
            [[maybe_unused]] __m256i high_bits;
            if constexpr (kFifthBit) high_bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh));
            for (int j = 0; j < 4; ++j) {
                const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * j));
                __m256i q_lo = _mm256_and_si256(bytes, low4);
                __m256i q_hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
                if constexpr (kFifthBit) {
                    const __m256i one = _mm256_set1_epi8(1);
                    q_lo = _mm256_or_si256(q_lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high_bits, 2 * j), one), 4));
                    q_hi = _mm256_or_si256(q_hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high_bits, 2 * j + 1), one), 4));
                }
                const __m256i s_lo = _mm256_set1_epi16(scale[2 * j]), s_hi = _mm256_set1_epi16(scale[2 * j + 1]);
                for (int r = 0; r < R; ++r) {
                    const int8_t* a = xr[r][b].qs + 64 * j;
                    const __m256i p_lo = _mm256_maddubs_epi16(q_lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)));
                    const __m256i p_hi = _mm256_maddubs_epi16(q_hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 32)));
                    sum[r] = _mm256_add_epi32(sum[r], _mm256_add_epi32(_mm256_madd_epi16(p_lo, s_lo), _mm256_madd_epi16(p_hi, s_hi)));
                }
            }
            const float d = half_to_float(blk.d), dmin = half_to_float(blk.dmin);
            for (int r = 0; r < R; ++r) {
                const ActBlock256& a = xr[r][b];
                const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums));
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * a.d), _mm256_cvtepi32_ps(sum[r]), acc[r]);
                acc_min[r] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * a.d), _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums, mins)), acc_min[r]);
            }
        }
        for (int r = 0; r < R; ++r) out[r] = hsum(_mm256_sub_ps(acc[r], acc_min[r]));
    }
};

struct Q6KDot {
    template <int R>
    static void run(int64_t K, const void* w, const void* x, size_t stride, float* out) {
        const auto* wb = static_cast<const BlockQ6_K*>(w);
        const ActBlock256* xr[R];
        __m256 acc[R];
        for (int r = 0; r < R; ++r) xr[r] = act_row<ActBlock256>(x, stride, r), acc[r] = _mm256_setzero_ps();
        const __m256i low4 = _mm256_set1_epi8(0x0f), two_bits = _mm256_set1_epi8(0x30);
        for (int64_t b = 0; b < K / 256; ++b) {
            const BlockQ6_K& blk = wb[b];
            __m256i sum[R];
            for (int r = 0; r < R; ++r) sum[r] = _mm256_setzero_si256();
            for (int half = 0; half < 2; ++half) {
                const __m256i la = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * half));
                const __m256i lb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * half + 32));
                const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * half));
                // The four 32-element parts of this half, 6-bit values 0..63 (the -32 comes later).
                const __m256i q[4] = {
                    _mm256_or_si256(_mm256_and_si256(la, low4), _mm256_and_si256(_mm256_slli_epi16(h, 4), two_bits)),
                    _mm256_or_si256(_mm256_and_si256(lb, low4), _mm256_and_si256(_mm256_slli_epi16(h, 2), two_bits)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), low4), _mm256_and_si256(h, two_bits)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), low4),
                                    _mm256_and_si256(_mm256_srli_epi16(h, 2), two_bits))};
                for (int part = 0; part < 4; ++part) {
                    const int g = 8 * half + 2 * part;  // the part's two 16-element scale groups
                    const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(blk.scales[g + 1]), _mm_set1_epi16(blk.scales[g]));
                    for (int r = 0; r < R; ++r) {
                        const int8_t* a = xr[r][b].qs + 128 * half + 32 * part;
                        const __m256i p = _mm256_maddubs_epi16(q[part], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)));
                        sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(p, scales));
                    }
                }
            }
            const float d = half_to_float(blk.d);
            for (int r = 0; r < R; ++r) {
                const ActBlock256& a = xr[r][b];
                int offset = 0;
                for (int g = 0; g < 16; ++g) offset += int(blk.scales[g]) * a.bsums[g];
                const __m256i corrected = _mm256_sub_epi32(sum[r], _mm256_setr_epi32(32 * offset, 0, 0, 0, 0, 0, 0, 0));
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * a.d), _mm256_cvtepi32_ps(corrected), acc[r]);
            }
        }
        for (int r = 0; r < R; ++r) out[r] = hsum(acc[r]);
    }
};

// Float weights against f32 activations: M weight rows x R tokens. Each (row, token) sums in two
// accumulators of 8 lanes, over the even and the odd 8-element steps of every 16 (two chains, so
// that one row and one token is not bound by the multiply-add latency), then adds the two, sums
// the lanes and adds the tail (K % 16) in order. That order does not depend on M or R, so every
// tile shape gives a (row, token) the same value. Small tiles keep both accumulators live in one
// sweep; larger ones (3 rows x 4 tokens: each activation load serves 3 rows) sweep the even
// steps, then the odd ones, to fit the 16 ymm registers.
template <typename Load>
struct FloatTile {
    // `ahead`: bytes from a row to the row it prefetches (0: none).
    // acc[p]: the sums over the 8-element steps first + 8p, first + 8p + 16, ...
    template <int M, int R, int P>
    static void sweep(int64_t first, int64_t k_steps, const void* const* wr, const float* const* xr, size_t ahead,
                      __m256 (*acc)[M][R]) {
        for (int p = 0; p < P; ++p)
            for (int m = 0; m < M; ++m)
                for (int r = 0; r < R; ++r) acc[p][m][r] = _mm256_setzero_ps();
        for (int64_t k = first; k < k_steps; k += 16) {
            if (ahead != 0)
                for (int m = 0; m < M; ++m)
                    _mm_prefetch(static_cast<const char*>(wr[m]) + ahead + size_t(k) * Load::kBytes, _MM_HINT_T0);
            __m256 wv[P][M];
            for (int p = 0; p < P; ++p)
                for (int m = 0; m < M; ++m) wv[p][m] = Load::eight(wr[m], k + 8 * p);
            for (int r = 0; r < R; ++r)
                for (int p = 0; p < P; ++p) {
                    __m256 a = _mm256_loadu_ps(xr[r] + k + 8 * p);
                    // Held in a register for the M rows: GCC would otherwise fold the load into
                    // each multiply-add, M loads where one does (loads, not FMAs, then bound).
                    if constexpr (M > 1) asm("" : "+x"(a));
                    for (int m = 0; m < M; ++m) acc[p][m][r] = _mm256_fmadd_ps(wv[p][m], a, acc[p][m][r]);
                }
        }
    }

    template <int M, int R>
    static void run(int64_t K, const void* w, size_t w_stride, const void* x, size_t stride, float* out) {
        const void* wr[M];
        const float* xr[R];
        for (int m = 0; m < M; ++m) wr[m] = static_cast<const uint8_t*>(w) + size_t(m) * w_stride;
        for (int r = 0; r < R; ++r) xr[r] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(x) + size_t(r) * stride);
        const int64_t k_steps = K / 16 * 16;
        __m256 acc[2][M][R];  // [0]: even steps, [1]: odd steps
        if constexpr (2 * M * R <= 8) {
            sweep<M, R, 2>(0, k_steps, wr, xr, 0, acc);
        } else {
            // The first sweep waits on the weights (from L3 or memory on a model larger than
            // L2), the second finds them in L1: the first prefetches the rows 4 tiles ahead (a
            // few hundred ns of lead), which the hardware prefetcher does not see coming across
            // 3 interleaved rows.
            sweep<M, R, 1>(0, k_steps, wr, xr, 4 * M * w_stride, &acc[0]);
            sweep<M, R, 1>(8, k_steps, wr, xr, 0, &acc[1]);
        }
        for (int m = 0; m < M; ++m)
            for (int r = 0; r < R; ++r) {
                float sum = hsum(_mm256_add_ps(acc[0][m][r], acc[1][m][r]));
                for (int64_t t = k_steps; t < K; ++t) sum = std::fma(Load::one(wr[m], t), xr[r][t], sum);
                out[m * R + r] = sum;
            }
    }

    // The RowTileFn: one row per token group of one (the row streams from memory at full
    // rate); 3 rows for several tokens, fewer at a tile's end.
    static int tile(int64_t K, const void* w, size_t w_stride, int64_t rows, const void* x, size_t stride, int R,
                    float* out) {
        const int M = R == 1 ? 1 : int(std::min<int64_t>(rows, kMaxTileRows));
        using Fn = void (*)(int64_t, const void*, size_t, const void*, size_t, float*);
        static_assert(kMaxTileRows == 3 && kMaxDotRows == 4);
        static constexpr Fn kShapes[kMaxTileRows][kMaxDotRows] = {
            {run<1, 1>, run<1, 2>, run<1, 3>, run<1, 4>},
            {run<2, 1>, run<2, 2>, run<2, 3>, run<2, 4>},
            {run<3, 1>, run<3, 2>, run<3, 3>, run<3, 4>},
        };
        kShapes[M - 1][R - 1](K, w, w_stride, x, stride, out);
        return M;
    }

    // The RowDotFn: one row.
    static void row(int64_t K, const void* w, const void* x, size_t stride, int R, float* out) {
        tile(K, w, 0, 1, x, stride, R, out);
    }
};

struct LoadF32 {
    static constexpr size_t kBytes = 4;
    static __m256 eight(const void* w, int64_t k) { return _mm256_loadu_ps(static_cast<const float*>(w) + k); }
    static float one(const void* w, int64_t k) { return static_cast<const float*>(w)[k]; }
};
struct LoadF16 {
    static constexpr size_t kBytes = 2;
    static __m256 eight(const void* w, int64_t k) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + k)));
    }
    static float one(const void* w, int64_t k) { return _cvtsh_ss(static_cast<const uint16_t*>(w)[k]); }
};
struct LoadBF16 {
    static constexpr size_t kBytes = 2;
    static __m256 eight(const void* w, int64_t k) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + k));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    static float one(const void* w, int64_t k) {
        const uint32_t bits = uint32_t(static_cast<const uint16_t*>(w)[k]) << 16;
        float f;
        __builtin_memcpy(&f, &bits, 4);
        return f;
    }
};

// Turns a kernel family (a struct with `template <int R> static void run`) into a RowDotFn
// choosing R at run time.
template <typename Kernel>
void by_rows(int64_t K, const void* w, const void* x, size_t stride, int R, float* out) {
    switch (R) {
    case 1: Kernel::template run<1>(K, w, x, stride, out); return;
    case 2: Kernel::template run<2>(K, w, x, stride, out); return;
    case 3: Kernel::template run<3>(K, w, x, stride, out); return;
    default: Kernel::template run<4>(K, w, x, stride, out); return;
    }
}
static_assert(kMaxDotRows == 4);

constexpr RowDotTable make_table() {
    RowDotTable t{};
    t[size_t(DType::f32)] = {ActFormat::f32, FloatTile<LoadF32>::row, FloatTile<LoadF32>::tile};
    t[size_t(DType::f16)] = {ActFormat::f32, FloatTile<LoadF16>::row, FloatTile<LoadF16>::tile};
    t[size_t(DType::bf16)] = {ActFormat::f32, FloatTile<LoadBF16>::row, FloatTile<LoadBF16>::tile};
    t[size_t(DType::q8_0)] = {ActFormat::q8_32, by_rows<Block32Dot<Q8_0Format>>};
    t[size_t(DType::q4_0)] = {ActFormat::q8_32, by_rows<Block32Dot<Q4_0Format>>};
    t[size_t(DType::q4_1)] = {ActFormat::q8_32, by_rows<Block32Dot<Q4_1Format>>};
    t[size_t(DType::q5_0)] = {ActFormat::q8_32, by_rows<Block32Dot<Q5_0Format>>};
    t[size_t(DType::q5_1)] = {ActFormat::q8_32, by_rows<Block32Dot<Q5_1Format>>};
    t[size_t(DType::iq4_nl)] = {ActFormat::q8_32, by_rows<Block32Dot<IQ4_NLFormat>>};
    t[size_t(DType::q4_k)] = {ActFormat::q8_256, by_rows<Q45KDot<false, BlockQ4_K>>};
    t[size_t(DType::q5_k)] = {ActFormat::q8_256, by_rows<Q45KDot<true, BlockQ5_K>>};
    t[size_t(DType::q6_k)] = {ActFormat::q8_256, by_rows<Q6KDot>};
    return t;
}

constexpr RowDotTable kTable = make_table();

}  // namespace

const RowDotTable& row_dots_avx2() { return kTable; }
#else
const RowDotTable& row_dots_avx2() {
    static constexpr RowDotTable kEmpty{};
    return kEmpty;
}
#endif

}  // namespace slm::kernels
