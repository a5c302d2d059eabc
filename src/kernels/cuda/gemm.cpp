// The prompt GEMM: weights dequantized to f16 a slice of rows at a time (dequantize.cu), then one
// cuBLAS GemmEx per slice on the tensor cores with f32 accumulation. Slices bound the scratch to
// about 64 MiB whatever the matrix (a 256k-row vocabulary head would need 1 GiB at once), and are
// large enough (thousands of rows) that each GEMM still fills the GPU.
#include "kernels/cuda/device.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/ops.h"

#include <slm/error.h>

#include <algorithm>

namespace slm::cuda {

namespace {

constexpr size_t kScratchBytes = size_t(64) << 20;

void check_blas(cublasStatus_t status, const char* what) {
    if (status != CUBLAS_STATUS_SUCCESS) fail("cuBLAS: {}: {}", what, cublasGetStatusString(status));
}

}  // namespace

int64_t gemm_slice_rows(int64_t K) {
    const int64_t rows = int64_t(kScratchBytes / (size_t(std::max<int64_t>(K, 1)) * 2));
    return std::max<int64_t>(64, rows / 64 * 64);
}

size_t gemm_scratch_bytes(int64_t K) { return size_t(gemm_slice_rows(K)) * size_t(K) * 2; }

void gemm(const Tensor& W, const void* x_f16, int64_t T, float* y, void* w_f16, cublasHandle_t blas,
          cudaStream_t stream) {
    if (W.device != Device::cuda || W.layout != Layout::rows || W.ndim() != 2)
        fail("cuda::gemm: the weight is not a row-layout matrix on the device");
    if (!launch::matvec_reads(W.dtype)) fail("cuda::gemm: no kernel for weights of dtype {}", name(W.dtype));
    const int64_t N = W.dim(0), K = W.dim(1);
    if (K % traits(W.dtype).block_size != 0 || K % 8 != 0)
        fail("cuda::gemm: row length {} of a {} weight is not whole blocks", K, name(W.dtype));
    if (N == 0 || T == 0) return;
    const float alpha = 1.0f, beta = 0.0f;
    const int64_t slice = gemm_slice_rows(K);
    for (int64_t r0 = 0; r0 < N; r0 += slice) {
        const int64_t rows = std::min(slice, N - r0);
        const void* a = static_cast<const uint8_t*>(W.data) + size_t(r0) * W.row_bytes();
        if (W.dtype != DType::f16) {
            launch::dequantize_f16(W.dtype, W.data, N, r0, rows, K, w_f16, stream);
            check(cudaGetLastError(), "dequantize for gemm");
            a = w_f16;
        }
        // Row-major y[T, N] is column-major N x T: y^T = W x^T with W's rows as columns of K.
        check_blas(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, int(rows), int(T), int(K), &alpha, a, CUDA_R_16F,
                                int(K), x_f16, CUDA_R_16F, int(K), &beta, y + r0, CUDA_R_32F, int(N),
                                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   "gemm");
    }
}

}  // namespace slm::cuda
