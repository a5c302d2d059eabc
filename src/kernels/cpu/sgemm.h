// The inner pieces of the f32 GEMM (sgemm.cpp), one table per instruction-set level: a
// microkernel that holds a kSgemmMR x kSgemmNR block of C in registers over a K block, and the
// packing of B into the panels it reads. sgemm.cpp cuts C into tiles for the pool, and its A and B
// into cache-sized blocks; the portable table is the reference of the others.
#pragma once

#include "kernels/cpu/isa.h"

#include <slm/train_ops.h>

#include <cstdint>

namespace slm::kernels {

constexpr int kSgemmMR = 6;   // rows of C per microkernel call
constexpr int kSgemmNR = 16;  // columns: two AVX2 vectors; 6 x 2 accumulators + 2 operands + 1 broadcast

struct SgemmOps {
    // For r < mr, i < nr (mr <= kSgemmMR, nr <= kSgemmNR):
    //   c[r * ldc + i] = alpha * sum over k < kc of a(r, k) * b[k * kSgemmNR + i] + beta * c[r * ldc + i],
    // where beta == 0 does not read c. a(r, k) is a[k * kSgemmMR + r] for a packed strip
    // (`packed`), a[r * lda + k] for rows read in place (`rows`); rows past mr are never read.
    void (*packed)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr, float alpha,
                   float beta);
    void (*rows)(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc, int mr, int nr,
                 float alpha, float beta);
    // One panel of op(B) (kc x nr, nr <= kSgemmNR) into dst[k * kSgemmNR + i], zero for i >= nr.
    // `b` points at op(B)'s element (0, 0) of the panel: stored [K, N] (trans false) it is
    // b[k * ldb + i], stored [N, K] (trans true) it is b[i * ldb + k].
    void (*pack_b)(const float* b, int64_t ldb, bool trans, int64_t kc, int nr, float* dst);
};

const SgemmOps& sgemm_ops_portable();
const SgemmOps& sgemm_ops_avx2();

inline const SgemmOps& sgemm_ops(Isa isa) {
    return isa >= Isa::avx2 ? sgemm_ops_avx2() : sgemm_ops_portable();  // avx512: AVX2's
}

// kernels::sgemm on the given level's pieces (sgemm takes best_isa()'s): for the tests of each level.
void sgemm_with(const SgemmOps& ops, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool* pool);

}  // namespace slm::kernels
