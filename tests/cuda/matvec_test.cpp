// The CUDA matrix x vector kernels against the scalar reference matmul (kernels::ref::matmul) on
// random and edge shapes, for every weight dtype they read; the 8-bit activations they take; and
// the batch invariance the CPU kernels keep (a token's values do not depend on its batch).
#include "cuda/cuda_testing.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/ops.h"
#include "kernels/random_data.h"

#include <slm/error.h>
#include <slm/kernels.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace slm::cuda {
namespace {

using test::DeviceTensor;
using test::nmse;
using test::to_device;
using test::to_host;

// y = x W^T on the device, quantizing x first when the kernel reads 8-bit activations.
std::vector<float> device_matvec(const Tensor& host_w, const std::vector<float>& x, int64_t T) {
    const DeviceTensor W(host_w);
    const int64_t N = host_w.dim(0), K = host_w.dim(1);
    const DeviceBuffer dx = to_device(x);
    const DeviceBuffer dq = DeviceBuffer::allocate(q8_activations_bytes(T, K));
    const DeviceBuffer dy = DeviceBuffer::allocate(size_t(T * N) * sizeof(float));
    if (matvec_takes_q8(W.tensor.dtype)) quantize_activations(dx.as<float>(), T, K, dq.data(), nullptr);
    matvec(W.tensor, dx.as<float>(), dq.data(), T, dy.as<float>(), nullptr);
    return to_host<float>(dy, size_t(T * N));
}

std::vector<float> reference_matvec(const Tensor& W, const std::vector<float>& x, int64_t T) {
    std::vector<float> y(size_t(T * W.dim(0)));
    kernels::ref::matmul(W, x.data(), T, y.data());
    return y;
}

// The quantized kernels round activations to 8 bits, as ggml's do: test-backend-ops' bound for
// its matrix products, over outputs enough for a mean to mean something. f16/bf16 meet f32
// activations: only summation order differs.
double bound_for(DType t) { return matvec_takes_q8(t) ? 5e-4 : 1e-10; }

// Each output of a quantized kernel against the reference within what rounding the activations
// to 8 bits can change: sum_k |w_k| * amax(x's 32-block of k) / 254, plus float rounding (the
// bound of the CPU's quantized matmul tests, docs/performance.md). Also the mean error where
// there are enough outputs for one.
void expect_matches(const Tensor& W, const std::vector<float>& x, int64_t T, const std::vector<float>& got,
                    const std::string& what) {
    const std::vector<float> want = reference_matvec(W, x, T);
    const int64_t N = W.dim(0), K = W.dim(1);
    if (!matvec_takes_q8(W.dtype)) {
        EXPECT_LT(nmse(got, want), bound_for(W.dtype)) << what;
        return;
    }
    if (N * T >= 64) {
        EXPECT_LT(nmse(got, want), bound_for(W.dtype)) << what;
    }
    std::vector<float> row(static_cast<size_t>(K));
    for (int64_t n = 0; n < N; ++n) {
        traits(W.dtype).to_float(W.row(n), row.data(), K);
        for (int64_t t = 0; t < T; ++t) {
            const float* xt = x.data() + t * K;
            double bound = 1e-30, magnitude = 0;
            for (int64_t b = 0; b < K; b += 32) {
                float amax = 0;
                for (int64_t k = b; k < b + 32; ++k) amax = std::max(amax, std::fabs(xt[k]));
                for (int64_t k = b; k < b + 32; ++k) {
                    bound += std::fabs(double(row[size_t(k)])) * double(amax) / 254.0;
                    magnitude += std::fabs(double(row[size_t(k)]) * double(xt[k]));
                }
            }
            bound += 1e-5 * magnitude;
            ASSERT_LE(std::fabs(double(got[size_t(t * N + n)]) - double(want[size_t(t * N + n)])), bound)
                << what << " row " << n << " token " << t;
        }
    }
}

struct Shape {
    int64_t N, K, T;
};

class CudaMatvec : public ::testing::TestWithParam<DType> {};

TEST_P(CudaMatvec, MatchesReferenceOnRandomShapes) {
    SLM_REQUIRE_CUDA();
    const DType dtype = GetParam();
    // Rows not a multiple of the block's 4 warps, rows shorter than a warp's 32 slices, an odd
    // slice count (the one-slice tail), 7B-sized rows, and every token count up to 8.
    const Shape shapes[] = {{1, 256, 1},  {37, 512, 3},  {3, 768, 2},   {128, 4096, 1},
                            {130, 2816, 8}, {257, 1024, 5}, {8, 256, 8}, {64, 11008, 4},
                            {33, 1280, 6}, {16, 2048, 7}};
    uint32_t seed = 1;
    for (const Shape& s : shapes) {
        const OwnedTensor W = kernels::test::random_weights(dtype, s.N, s.K, seed++);
        const std::vector<float> x = kernels::test::random_floats(size_t(s.T * s.K), seed++);
        expect_matches(W.tensor, x, s.T, device_matvec(W.tensor, x, s.T),
                       fmt::format("{} N={} K={} T={}", name(dtype), s.N, s.K, s.T));
    }
}

TEST_P(CudaMatvec, MatchesReferenceOnLargeAndSmallMagnitudes) {
    SLM_REQUIRE_CUDA();
    const DType dtype = GetParam();
    for (const float scale : {1e-4f, 1e3f}) {
        const OwnedTensor W = kernels::test::random_weights(dtype, 20, 512, 7);
        const std::vector<float> x = kernels::test::random_floats(3 * 512, 8, scale);
        expect_matches(W.tensor, x, 3, device_matvec(W.tensor, x, 3),
                       fmt::format("{} activation scale {}", name(dtype), scale));
    }
}

TEST_P(CudaMatvec, ZeroWeightsAndZeroActivationsGiveZeros) {
    SLM_REQUIRE_CUDA();
    const DType dtype = GetParam();
    // Row 0 all zeros (blocks of zero scale), token 1 all zeros (activations of zero scale).
    const int64_t N = 6, K = 512, T = 2;
    const OwnedTensor W = kernels::test::random_weights(dtype, N, K, 3);
    std::vector<float> zeros(size_t(K), 0.0f);
    traits(dtype).from_float(zeros.data(), W.tensor.row(0), K);
    std::vector<float> x = kernels::test::random_floats(size_t(T * K), 4);
    std::fill(x.begin() + K, x.end(), 0.0f);
    const std::vector<float> y = device_matvec(W.tensor, x, T);
    EXPECT_EQ(y[0], 0.0f);
    for (int64_t n = 0; n < N; ++n) EXPECT_EQ(y[size_t(N + n)], 0.0f) << "row " << n;
    expect_matches(W.tensor, x, T, y, std::string(name(dtype)));
}

TEST_P(CudaMatvec, TokenValuesDoNotDependOnTheBatch) {
    SLM_REQUIRE_CUDA();
    const DType dtype = GetParam();
    const int64_t N = 45, K = 1536, T = 8;
    const OwnedTensor W = kernels::test::random_weights(dtype, N, K, 11);
    const std::vector<float> x = kernels::test::random_floats(size_t(T * K), 12);
    const std::vector<float> batched = device_matvec(W.tensor, x, T);
    for (int64_t t = 0; t < T; ++t) {
        const std::vector<float> xt(x.begin() + t * K, x.begin() + (t + 1) * K);
        const std::vector<float> alone = device_matvec(W.tensor, xt, 1);
        for (int64_t n = 0; n < N; ++n)
            ASSERT_EQ(alone[size_t(n)], batched[size_t(t * N + n)]) << "token " << t << " row " << n;
    }
}

// Every rows-per-warp choice (the benchmark times each): the same values, bit for bit, on a row
// count that leaves every choice a partial last warp.
TEST_P(CudaMatvec, EveryRowsPerWarpGivesTheSameValues) {
    SLM_REQUIRE_CUDA();
    const DType dtype = GetParam();
    const int64_t N = 23, K = 768;
    const OwnedTensor W = kernels::test::random_weights(dtype, N, K, 13);
    const DeviceTensor dW(W.tensor);
    for (const int T : {1, 3, 8}) {
        const std::vector<float> x = kernels::test::random_floats(size_t(T * K), 14);
        const DeviceBuffer dx = to_device(x);
        const DeviceBuffer dq = DeviceBuffer::allocate(q8_activations_bytes(T, K));
        if (matvec_takes_q8(dtype)) quantize_activations(dx.as<float>(), T, K, dq.data(), nullptr);
        std::vector<std::vector<float>> results;
        for (const int rows : {1, 2, 4}) {
            const DeviceBuffer dy = DeviceBuffer::allocate(size_t(T * N) * sizeof(float));
            launch::matvec(dtype, dW.tensor.data, N, K, dx.as<float>(), dq.data(), T, dy.as<float>(), nullptr, rows);
            check(cudaGetLastError(), "matvec");
            results.push_back(to_host<float>(dy, size_t(T * N)));
        }
        expect_matches(W.tensor, x, T, results[0], fmt::format("{} T={}", name(dtype), T));
        EXPECT_EQ(results[0], results[1]) << "T=" << T;
        EXPECT_EQ(results[0], results[2]) << "T=" << T;
    }
}

// Matrices that read the same x in one launch (q/k/v of a grouped-query model: one tall, two
// short), each row with the bits of its own launch.
TEST_P(CudaMatvec, OneLaunchOverSeveralMatricesGivesEachItsOwnBits) {
    SLM_REQUIRE_CUDA();
    const DType dtype = GetParam();
    const int64_t K = 512;
    const OwnedTensor q = kernels::test::random_weights(dtype, 70, K, 15);
    const OwnedTensor k = kernels::test::random_weights(dtype, 9, K, 16);
    const OwnedTensor v = kernels::test::random_weights(dtype, 9, K, 17);
    const DeviceTensor dq(q.tensor), dk(k.tensor), dv(v.tensor);
    for (const int T : {1, 5}) {
        const std::vector<float> x = kernels::test::random_floats(size_t(T * K), 18);
        const DeviceBuffer dx = to_device(x);
        const DeviceBuffer x8 = DeviceBuffer::allocate(q8_activations_bytes(T, K));
        if (matvec_takes_q8(dtype)) quantize_activations(dx.as<float>(), T, K, x8.data(), nullptr);
        std::vector<DeviceBuffer> ys;
        for (const DeviceTensor* W : {&dq, &dk, &dv})
            ys.push_back(DeviceBuffer::allocate(size_t(T * W->tensor.dim(0)) * sizeof(float)));
        const kernels::MatmulOut outs[] = {{&dq.tensor, ys[0].as<float>()}, {&dk.tensor, ys[1].as<float>()},
                                           {&dv.tensor, ys[2].as<float>()}};
        matvec(outs, dx.as<float>(), x8.data(), T, nullptr);
        size_t i = 0;
        for (const DeviceTensor* W : {&dq, &dk, &dv}) {
            const DeviceBuffer alone = DeviceBuffer::allocate(size_t(T * W->tensor.dim(0)) * 4);
            matvec(W->tensor, dx.as<float>(), x8.data(), T, alone.as<float>(), nullptr);
            const size_t n = size_t(T * W->tensor.dim(0));
            EXPECT_EQ(to_host<float>(ys[i], n), to_host<float>(alone, n)) << "matrix " << i << " T=" << T;
            ++i;
        }
    }
}

// A decode step's norm with its 1/rms left to the matvec (rms_norm_deferred, NormScale) gives the
// matvec of the whole norm (add_rms_norm) up to float rounding: the 8-bit codes of x * w and of
// x * w / rms are the same but for rounding, and the scale moves from each group to the sum. The
// residual stream is updated to the same bits, and apply_norm_scale makes the output the norm.
TEST_P(CudaMatvec, ANormScaleLeftToTheMatvecGivesTheMatvecOfTheNorm) {
    SLM_REQUIRE_CUDA();
    const DType dtype = GetParam();
    if (!matvec_takes_q8(dtype)) GTEST_SKIP() << "float weights read the norm itself";
    const int64_t K = 4096 + 256, N = 37;
    const float eps = 1e-5f;
    const OwnedTensor W = kernels::test::random_weights(dtype, N, K, 41);
    const DeviceTensor dW(W.tensor);
    const DeviceBuffer dw = to_device(kernels::test::random_floats(size_t(K), 42));
    for (const int T : {1, 2, 3, 8}) {
        const std::vector<float> x = kernels::test::random_floats(size_t(T * K), 43, 3.0f);
        const DeviceBuffer dr = to_device(kernels::test::random_floats(size_t(T * K), 44, 2.0f));
        const DeviceBuffer x_whole = to_device(x), x_deferred = to_device(x);
        const DeviceBuffer out_whole = DeviceBuffer::allocate(x.size() * 4), out_deferred = DeviceBuffer::allocate(x.size() * 4);
        const DeviceBuffer q8_whole = DeviceBuffer::allocate(q8_activations_bytes(T, K));
        const DeviceBuffer q8_deferred = DeviceBuffer::allocate(q8_activations_bytes(T, K));
        const DeviceBuffer sums = DeviceBuffer::allocate(size_t(norm_scale_sums(T, K)) * 4);
        const DeviceBuffer y_whole = DeviceBuffer::allocate(size_t(T * N) * 4), y_deferred = DeviceBuffer::allocate(size_t(T * N) * 4);
        add_rms_norm(x_whole.as<float>(), dr.as<float>(), dw.as<float>(), T, K, eps, out_whole.as<float>(), nullptr,
                     q8_whole.data());
        matvec(dW.tensor, out_whole.as<float>(), q8_whole.data(), T, y_whole.as<float>(), nullptr);
        rms_norm_deferred(x_deferred.as<float>(), dr.as<float>(), dw.as<float>(), T, K, out_deferred.as<float>(),
                          q8_deferred.data(), sums.as<float>(), nullptr);
        const kernels::MatmulOut out[] = {{&dW.tensor, y_deferred.as<float>()}};
        matvec(out, out_deferred.as<float>(), q8_deferred.data(), T, nullptr, NormScale{sums.as<float>(), eps});
        EXPECT_EQ(to_host<float>(x_deferred, x.size()), to_host<float>(x_whole, x.size())) << "T=" << T;
        const std::vector<float> want = to_host<float>(y_whole, size_t(T * N)), got = to_host<float>(y_deferred, size_t(T * N));
        EXPECT_LT(nmse(got, want), 1e-8) << name(dtype) << " T=" << T;
        apply_norm_scale(out_deferred.as<float>(), sums.as<float>(), T, K, eps, nullptr);
        EXPECT_LT(nmse(to_host<float>(out_deferred, x.size()), to_host<float>(out_whole, x.size())), 1e-12) << "T=" << T;
    }
    // Rows longer than the sums a lane holds are refused.
    const OwnedTensor wide = kernels::test::random_weights(dtype, 4, 256 * (kMaxNormScaleGroups / 8 + 1), 45);
    const DeviceTensor dwide(wide.tensor);
    const DeviceBuffer big = DeviceBuffer::allocate(q8_activations_bytes(1, wide.tensor.dim(1)) + 4 * 1024);
    const kernels::MatmulOut out[] = {{&dwide.tensor, big.as<float>()}};
    EXPECT_THROW(matvec(out, big.as<float>(), big.data(), 1, nullptr, NormScale{big.as<float>(), eps}), Error);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaMatvec,
                         ::testing::Values(DType::q4_0, DType::q8_0, DType::q4_k, DType::q5_k, DType::q6_k, DType::f16,
                                           DType::bf16),
                         [](const auto& info) { return std::string(name(info.param)); });

TEST(CudaActivations, EightBitCodesRoundEachValueWithinHalfAStep) {
    SLM_REQUIRE_CUDA();
    const int64_t T = 3, K = 256;
    std::vector<float> x = kernels::test::random_floats(size_t(T * K), 5);
    std::fill(x.begin() + 32, x.begin() + 64, 0.0f);  // a block of zeros: scale 0, codes 0
    const DeviceBuffer dx = to_device(x);
    const DeviceBuffer dq = DeviceBuffer::allocate(q8_activations_bytes(T, K));
    quantize_activations(dx.as<float>(), T, K, dq.data(), nullptr);
    const std::vector<int8_t> all = to_host<int8_t>(dq, q8_activations_bytes(T, K));
    std::vector<float> ds(size_t(T * K / 32) * 2);
    std::memcpy(ds.data(), all.data() + T * K, ds.size() * sizeof(float));
    for (int64_t b = 0; b < T * K / 32; ++b) {
        const float d = ds[size_t(2 * b)];
        float amax = 0;
        int sum = 0;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[size_t(b * 32 + i)]));
        EXPECT_FLOAT_EQ(d, amax / 127.0f) << "block " << b;
        for (int i = 0; i < 32; ++i) {
            const int8_t q = all[size_t(b * 32 + i)];
            sum += q;
            EXPECT_LE(std::fabs(float(q) * d - x[size_t(b * 32 + i)]), 0.5f * d * 1.0001f) << "block " << b;
        }
        EXPECT_FLOAT_EQ(ds[size_t(2 * b + 1)], d * float(sum)) << "block " << b;
    }
}

TEST(CudaMatvecChecks, RefusesWhatNoKernelReads) {
    // Refused on the host before anything reaches a device: runs without a GPU too.
    OwnedTensor host = kernels::test::random_weights(DType::q4_0, 4, 64, 1);
    float dummy = 0;
    EXPECT_THROW(matvec(host.tensor, &dummy, &dummy, 1, &dummy, nullptr), Error);  // not on the device
    Tensor on_device = host.tensor;
    on_device.device = Device::cuda;
    EXPECT_THROW(matvec(on_device, &dummy, &dummy, 9, &dummy, nullptr), Error);  // 9 tokens
    on_device.dtype = DType::q2_k;
    EXPECT_THROW(matvec(on_device, &dummy, &dummy, 1, &dummy, nullptr), Error);  // no q2_k kernel
}

}  // namespace
}  // namespace slm::cuda
