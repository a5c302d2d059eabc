// AVX2 + FMA pieces of the f32 GEMM (sgemm.h): the 6 x 16 microkernel keeps twelve accumulators
// in registers over a whole K block, two B loads and six broadcasts feeding twelve FMAs per step
// (enough independent chains to cover the FMA latency on both pipes), and the packing of a
// transposed B panel by 8 x 8 register transposes rather than element by element.
#include "kernels/cpu/sgemm.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#endif

namespace slm::kernels {

#if defined(__x86_64__)
namespace {

template <bool kPacked>
void micro(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc, int mr, int nr, float alpha,
           float beta) {
    // Rows past mr read row mr - 1 again (their sums are dropped), so the loop has one shape.
    const float* ar[kSgemmMR];
#pragma GCC unroll 6
    for (int r = 0; r < kSgemmMR; ++r) ar[r] = kPacked ? a + r : a + std::min(r, mr - 1) * lda;
    constexpr int64_t step = kPacked ? kSgemmMR : 1;
    // Unrolled by pragmas so that GCC keeps acc in registers (as loops it stored them each step).
    __m256 acc[kSgemmMR][2];
#pragma GCC unroll 6
    for (int r = 0; r < kSgemmMR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
        const __m256 b0 = _mm256_load_ps(b + k * kSgemmNR), b1 = _mm256_load_ps(b + k * kSgemmNR + 8);
#pragma GCC unroll 6
        for (int r = 0; r < kSgemmMR; ++r) {
            const __m256 x = _mm256_broadcast_ss(ar[r] + k * step);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    if (mr == kSgemmMR && nr == kSgemmNR) {
#pragma GCC unroll 6
        for (int r = 0; r < kSgemmMR; ++r) {
            float* cr = c + r * ldc;
            __m256 c0 = _mm256_mul_ps(va, acc[r][0]), c1 = _mm256_mul_ps(va, acc[r][1]);
            if (beta != 0.0f) {
                c0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), c0);
                c1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), c1);
            }
            _mm256_storeu_ps(cr, c0);
            _mm256_storeu_ps(cr + 8, c1);
        }
        return;
    }
    alignas(32) float tile[kSgemmMR][kSgemmNR];
#pragma GCC unroll 6
    for (int r = 0; r < kSgemmMR; ++r) {
        _mm256_store_ps(tile[r], _mm256_mul_ps(va, acc[r][0]));
        _mm256_store_ps(tile[r] + 8, _mm256_mul_ps(va, acc[r][1]));
    }
    for (int r = 0; r < mr; ++r)
        for (int i = 0; i < nr; ++i) {
            float& out = c[r * ldc + i];
            out = beta == 0.0f ? tile[r][i] : tile[r][i] + beta * out;
        }
}

void packed(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr, float alpha, float beta) {
    micro<true>(kc, a, 0, b, c, ldc, mr, nr, alpha, beta);
}

// 8 rows of 8 floats (r[i] = row i) transposed in registers: r[i] becomes column i.
inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

void pack_b(const float* b, int64_t ldb, bool trans, int64_t kc, int nr, float* dst) {
    if (!trans) {
        for (int64_t k = 0; k < kc; ++k) {
            float* d = dst + k * kSgemmNR;
            if (nr == kSgemmNR) {
                _mm256_store_ps(d, _mm256_loadu_ps(b + k * ldb));
                _mm256_store_ps(d + 8, _mm256_loadu_ps(b + k * ldb + 8));
            } else {
                std::memcpy(d, b + k * ldb, size_t(nr) * sizeof(float));
                std::fill(d + nr, d + kSgemmNR, 0.0f);
            }
        }
        return;
    }
    // b[i * ldb + k]: 8 x 8 blocks of (column i, step k) transposed into 8 steps of 8 columns.
    int64_t k = 0;
    if (nr == kSgemmNR) {
        for (; k + 8 <= kc; k += 8) {
            for (int half = 0; half < 2; ++half) {
                __m256 r[8];
                for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(b + (8 * half + i) * ldb + k);
                transpose8(r);
                for (int s = 0; s < 8; ++s) _mm256_store_ps(dst + (k + s) * kSgemmNR + 8 * half, r[s]);
            }
        }
    }
    for (; k < kc; ++k) {
        float* d = dst + k * kSgemmNR;
        for (int i = 0; i < nr; ++i) d[i] = b[i * ldb + k];
        for (int i = nr; i < kSgemmNR; ++i) d[i] = 0.0f;
    }
}

}  // namespace

const SgemmOps& sgemm_ops_avx2() {
    static const SgemmOps ops{packed, micro<false>, pack_b};
    return ops;
}
#else
const SgemmOps& sgemm_ops_avx2() { return sgemm_ops_portable(); }
#endif

}  // namespace slm::kernels
