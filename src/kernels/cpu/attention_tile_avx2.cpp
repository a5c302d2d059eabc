// AVX2 + FMA attention tile loops (see attention_tile.h). The products hold a block of up to
// kRows x 16 outputs in twelve registers over the whole sum: per step of k, two loads of the
// right operand and one broadcast per row feed up to twelve FMAs, where a query head at a time
// (the previous kernels) loaded one vector per FMA and, at 32-wide heads, ran a single chain.
#include "kernels/cpu/attention_tile.h"
#include "kernels/cpu/fast_math.h"

#include <algorithm>
#include <array>
#include <utility>

#if defined(__x86_64__)
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#endif

namespace slm::kernels {

#if defined(__x86_64__)
namespace {

constexpr int kRows = 6;  // 6 rows x 2 vectors: 12 accumulators, 2 operands, 1 broadcast

// One kR x (8 kV) block of c over all K.
template <int kR, int kV, bool kAccumulate>
void product_block(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t K) {
    // Unrolled before GCC decides where sum lives: left as loops, it kept the array in memory
    // and stored all twelve accumulators on every step of k, twice as slow.
    __m256 sum[kR][kV];
#pragma GCC unroll 6
    for (int r = 0; r < kR; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < kV; ++v) sum[r][v] = kAccumulate ? _mm256_loadu_ps(c + r * ldc + 8 * v) : _mm256_setzero_ps();
    for (int64_t k = 0; k < K; ++k) {
        __m256 bk[kV];
#pragma GCC unroll 2
        for (int v = 0; v < kV; ++v) bk[v] = _mm256_loadu_ps(b + k * ldb + 8 * v);
#pragma GCC unroll 6
        for (int r = 0; r < kR; ++r) {
            const __m256 ar = _mm256_broadcast_ss(a + r * lda + k);
#pragma GCC unroll 2
            for (int v = 0; v < kV; ++v) sum[r][v] = _mm256_fmadd_ps(ar, bk[v], sum[r][v]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < kR; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < kV; ++v) _mm256_storeu_ps(c + r * ldc + 8 * v, sum[r][v]);
}

using ProductBlock = void (*)(float*, int64_t, const float*, int64_t, const float*, int64_t, int64_t);
using ProductTable = std::array<std::array<ProductBlock, 2>, kRows>;  // [rows - 1][vectors - 1]

template <bool kAccumulate, int... kR>
constexpr ProductTable product_table(std::integer_sequence<int, kR...>) {
    return {{{product_block<kR + 1, 1, kAccumulate>, product_block<kR + 1, 2, kAccumulate>}...}};
}

constexpr ProductTable kStoreBlocks = product_table<false>(std::make_integer_sequence<int, kRows>{});
constexpr ProductTable kAccumulateBlocks = product_table<true>(std::make_integer_sequence<int, kRows>{});

void product_avx2(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t rows,
                  int64_t K, int64_t W, bool accumulate) {
    const ProductTable& blocks = accumulate ? kAccumulateBlocks : kStoreBlocks;
    for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
        const int64_t nr = std::min<int64_t>(kRows, rows - r0);
        float* cr = c + r0 * ldc;
        const float* ar = a + r0 * lda;
        int64_t i = 0;
        for (; i + 16 <= W; i += 16) blocks[size_t(nr - 1)][1](cr + i, ldc, ar, lda, b + i, ldb, K);
        if (i + 8 <= W) blocks[size_t(nr - 1)][0](cr + i, ldc, ar, lda, b + i, ldb, K), i += 8;
        // Columns past the last 8: the same fused multiply-adds in the same order, one at a time.
        for (; i < W; ++i) {
            for (int64_t r = 0; r < nr; ++r) {
                float sum = accumulate ? cr[r * ldc + i] : 0.0f;
                for (int64_t k = 0; k < K; ++k) sum = __builtin_fmaf(ar[r * lda + k], b[k * ldb + i], sum);
                cr[r * ldc + i] = sum;
            }
        }
    }
}

// rows[0..8) (eight vectors) transposed in registers.
inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);      // a0 b0 a1 b1 | a4 b4 a5 b5
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);  // a2 b2 a3 b3 | a6 b6 a7 b7
    }
    for (int h = 0; h < 2; ++h) {  // rows 0-3, then rows 4-7
        const __m256* th = t + 4 * h;
        u[4 * h + 0] = _mm256_shuffle_ps(th[0], th[2], 0x44);  // column 0 | 4 of four rows
        u[4 * h + 1] = _mm256_shuffle_ps(th[0], th[2], 0xEE);  // column 1 | 5
        u[4 * h + 2] = _mm256_shuffle_ps(th[1], th[3], 0x44);  // column 2 | 6
        u[4 * h + 3] = _mm256_shuffle_ps(th[1], th[3], 0xEE);  // column 3 | 7
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
        r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
    }
}

void transpose_avx2(const float* rows, int64_t n, int64_t D, float* t, int64_t ldt) {
    const int64_t n8 = n / 8 * 8, D8 = D / 8 * 8;
    for (int64_t j = 0; j < n8; j += 8) {
        for (int64_t d = 0; d < D8; d += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(rows + (j + i) * D + d);
            transpose8(r);
            for (int i = 0; i < 8; ++i) _mm256_storeu_ps(t + (d + i) * ldt + j, r[i]);
        }
        for (int64_t d = D8; d < D; ++d)
            for (int64_t i = 0; i < 8; ++i) t[d * ldt + j + i] = rows[(j + i) * D + d];
    }
    const int64_t padded = (n + 7) / 8 * 8;
    for (int64_t d = 0; d < D; ++d) {
        for (int64_t j = n8; j < n; ++j) t[d * ldt + j] = rows[j * D + d];
        for (int64_t j = n; j < padded; ++j) t[d * ldt + j] = 0.0f;
    }
}

float exponentiate_avx2(float* s, int64_t lo, int64_t hi, int64_t n, float* running_max) {
    __m256 mv = _mm256_set1_ps(*running_max);
    int64_t j = lo;
    for (; j + 8 <= hi + 1; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(s + j));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, mv);
    float m = *std::max_element(lanes, lanes + 8);
    for (; j <= hi; ++j) m = std::max(m, s[j]);
    *running_max = m;

    std::fill(s, s + lo, 0.0f);
    std::fill(s + hi + 1, s + n, 0.0f);
    // Eight independent lanes of fast_exp, which GCC turns into one vector polynomial.
    float sum_lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (j = lo; j + 8 <= hi + 1; j += 8)
        for (int l = 0; l < 8; ++l) sum_lanes[l] += (s[j + l] = fast_exp(s[j + l] - m));
    float sum = ((sum_lanes[0] + sum_lanes[4]) + (sum_lanes[1] + sum_lanes[5])) + ((sum_lanes[2] + sum_lanes[6]) + (sum_lanes[3] + sum_lanes[7]));
    for (; j <= hi; ++j) sum += (s[j] = fast_exp(s[j] - m));
    return sum;
}

const AttentionTileOps kOps{product_avx2, transpose_avx2, exponentiate_avx2};

}  // namespace

const AttentionTileOps& attention_tile_ops_avx2() { return kOps; }
#else
const AttentionTileOps& attention_tile_ops_avx2() { return attention_tile_ops_portable(); }
#endif

}  // namespace slm::kernels
