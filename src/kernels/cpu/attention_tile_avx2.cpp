// AVX2 + FMA attention tile loops (see attention_tile.h). Scores: eight keys at a time, eight
// independent FMA chains over the head dimension and one transpose-by-hadd to eight scores, where
// one key at a time left a single latency-bound chain plus a horizontal sum per score. Values:
// the output row is held in up to eight registers across all keys of the tile instead of being
// loaded and stored once per key.
#include "kernels/cpu/attention_tile.h"
#include "kernels/cpu/fast_math.h"

#if defined(__x86_64__)
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#endif

namespace slm::kernels {

#if defined(__x86_64__)
namespace {

// The eight lanes' sums of eight vectors, as one vector [sum(v0), ..., sum(v7)].
inline __m256 transpose_sums(const __m256 v[8]) {
    const __m256 a = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    const __m256 b = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
    // a = [s0 s1 s2 s3 | s0' s1' s2' s3'] (low and high 128-bit halves' partial sums), same for b.
    return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

void scores_avx2(const float* q, const float* k_tile, int64_t lo, int64_t hi, int64_t Dh, float scale, float* scores) {
    int64_t j = lo;
    if (Dh % 8 == 0) {
        for (; j + 8 <= hi + 1; j += 8) {
            __m256 acc[8];
            for (int r = 0; r < 8; ++r) acc[r] = _mm256_setzero_ps();
            for (int64_t d = 0; d < Dh; d += 8) {
                const __m256 qd = _mm256_loadu_ps(q + d);
                for (int r = 0; r < 8; ++r) acc[r] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(k_tile + (j + r) * Dh + d), acc[r]);
            }
            _mm256_storeu_ps(scores + j, _mm256_mul_ps(transpose_sums(acc), _mm256_set1_ps(scale)));
        }
    }
    for (; j <= hi; ++j) scores[j] = dot_f32(q, k_tile + j * Dh, Dh) * scale;
}

// acc[0 .. 8 * kVecs) over all keys, held in registers.
template <int kVecs>
void accumulate_slice(float* acc, float correction, const float* p, const float* v_tile, int64_t lo, int64_t hi, int64_t Dh) {
    __m256 sum[kVecs];
    const __m256 c = _mm256_set1_ps(correction);
    for (int i = 0; i < kVecs; ++i) sum[i] = _mm256_mul_ps(_mm256_loadu_ps(acc + 8 * i), c);
    for (int64_t j = lo; j <= hi; ++j) {
        const __m256 pj = _mm256_broadcast_ss(p + j);
        const float* v = v_tile + j * Dh;
        for (int i = 0; i < kVecs; ++i) sum[i] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 8 * i), sum[i]);
    }
    for (int i = 0; i < kVecs; ++i) _mm256_storeu_ps(acc + 8 * i, sum[i]);
}

void accumulate_avx2(float* acc, float correction, const float* p, const float* v_tile, int64_t lo, int64_t hi, int64_t Dh) {
    int64_t d = 0;
    for (; d + 64 <= Dh; d += 64) accumulate_slice<8>(acc + d, correction, p, v_tile + d, lo, hi, Dh);
    for (; d + 8 <= Dh; d += 8) accumulate_slice<1>(acc + d, correction, p, v_tile + d, lo, hi, Dh);
    for (; d < Dh; ++d) {
        float sum = acc[d] * correction;
        for (int64_t j = lo; j <= hi; ++j) sum += p[j] * v_tile[j * Dh + d];
        acc[d] = sum;
    }
}

const AttentionTileOps kOps{scores_avx2, accumulate_avx2};

}  // namespace

const AttentionTileOps& attention_tile_ops_avx2() { return kOps; }
#else
const AttentionTileOps& attention_tile_ops_avx2() { return attention_tile_ops_portable(); }
#endif

}  // namespace slm::kernels
