// Reference f32 GEMM: every element of C one dot product over K, summed in double. It defines
// what kernels::sgemm computes.
#include <slm/train_ops.h>

namespace slm::kernels::ref {

void sgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double sum = 0;
            for (int64_t k = 0; k < K; ++k) {
                const float a = ta == Trans::no ? A[i * lda + k] : A[k * lda + i];
                const float b = tb == Trans::no ? B[k * ldb + j] : B[j * ldb + k];
                sum += double(a) * double(b);
            }
            float& c = C[i * ldc + j];
            // beta = 0 must not read C: it may hold anything, NaN included.
            c = float(double(alpha) * sum + (beta == 0.0f ? 0.0 : double(beta) * double(c)));
        }
}

}  // namespace slm::kernels::ref
