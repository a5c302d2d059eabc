// The prompt GEMM (weights dequantized to f16, cuBLAS on the tensor cores) against the scalar
// reference matmul, for every weight type, on shapes that leave partial tiles and, with a small
// scratch budget forced by a wide K, more than one slice of rows.
#include "cuda/cuda_testing.h"
#include "kernels/cuda/ops.h"
#include "kernels/random_data.h"

#include <slm/error.h>
#include <slm/kernels.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace slm::cuda {
namespace {

using test::DeviceTensor;
using test::nmse;
using test::to_device;
using test::to_host;

struct Blas {
    cublasHandle_t handle = nullptr;
    Blas() { cublasCreate(&handle); }
    ~Blas() { cublasDestroy(handle); }
};

std::vector<float> device_gemm(const Tensor& host_w, const std::vector<float>& x, int64_t T, cublasHandle_t blas) {
    const DeviceTensor W(host_w);
    const int64_t N = host_w.dim(0), K = host_w.dim(1);
    const DeviceBuffer dx = to_device(x);
    const DeviceBuffer dx16 = DeviceBuffer::allocate(size_t(T * K) * 2);
    const DeviceBuffer scratch = DeviceBuffer::allocate(gemm_scratch_bytes(K));
    const DeviceBuffer dy = DeviceBuffer::allocate(size_t(T * N) * sizeof(float));
    store_f16(dx.as<float>(), T * K, dx16.data(), nullptr);
    gemm(W.tensor, dx16.data(), T, dy.as<float>(), scratch.data(), blas, nullptr);
    return to_host<float>(dy, size_t(T * N));
}

class CudaGemm : public ::testing::TestWithParam<DType> {};

TEST_P(CudaGemm, MatchesReference) {
    SLM_REQUIRE_CUDA();
    const DType dtype = GetParam();
    Blas blas;
    struct Shape {
        int64_t N, K, T;
    };
    // The last shape's rows (K = 32768: 1024-row slices) take two slices.
    for (const Shape s : {Shape{1, 256, 16}, Shape{67, 512, 33}, Shape{300, 4096, 128}, Shape{1100, 32768, 17}}) {
        const OwnedTensor W = kernels::test::random_weights(dtype, s.N, s.K, 31);
        const std::vector<float> x = kernels::test::random_floats(size_t(s.T * s.K), 32);
        const std::vector<float> got = device_gemm(W.tensor, x, s.T, blas.handle);
        std::vector<float> want(size_t(s.T * s.N));
        kernels::ref::matmul(W.tensor, x.data(), s.T, want.data());
        // f16 activations (and bf16 weights as f16) round each product's inputs to 11 bits.
        EXPECT_LT(nmse(got, want), 1e-5) << name(dtype) << " N=" << s.N << " K=" << s.K << " T=" << s.T;
    }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaGemm,
                         ::testing::Values(DType::q4_0, DType::q8_0, DType::q4_k, DType::q5_k, DType::q6_k, DType::f16,
                                           DType::bf16),
                         [](const auto& info) { return std::string(name(info.param)); });

TEST(CudaGemmSlices, ScratchIsBoundedAndWholeSlices) {
    for (const int64_t K : {256, 4096, 14336, 262144}) {
        EXPECT_LE(gemm_scratch_bytes(K), std::max(size_t(64) << 20, size_t(64 * K * 2))) << K;
        EXPECT_EQ(gemm_slice_rows(K) % 64, 0);
    }
}

}  // namespace
}  // namespace slm::cuda
