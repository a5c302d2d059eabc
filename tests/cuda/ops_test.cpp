// The CUDA elementwise and row ops (get_rows, rms_norm, layer_norm, rope whole and partial, the
// activations, softcap, multiply, add, add_bias, softmax, the f16 store) against their scalar
// references in kernels::ref, on random data and odd sizes.
#include "cuda/cuda_testing.h"
#include "kernels/cuda/ops.h"
#include "kernels/random_data.h"

#include <slm/error.h>
#include <slm/half.h>
#include <slm/kernels.h>

#include <gtest/gtest.h>

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

class CudaGetRows : public ::testing::TestWithParam<DType> {};

TEST_P(CudaGetRows, MatchesReference) {
    SLM_REQUIRE_CUDA();
    const DType dtype = GetParam();
    const int64_t V = 50, D = 512;
    const OwnedTensor E = kernels::test::random_weights(dtype, V, D, 21);
    const std::vector<int32_t> ids = {0, 49, 7, 7, 23, 1};
    const int64_t T = int64_t(ids.size());
    const DeviceTensor dE(E.tensor);
    const DeviceBuffer dids = to_device(ids);
    const DeviceBuffer dout = DeviceBuffer::allocate(size_t(T * D) * sizeof(float));
    get_rows(dE.tensor, dids.as<int32_t>(), T, dout.as<float>(), nullptr);
    const std::vector<float> got = to_host<float>(dout, size_t(T * D));
    std::vector<float> want(size_t(T * D));
    kernels::ref::get_rows(E.tensor, ids.data(), T, want.data());
    // The same products of the same stored numbers: equal up to float rounding of d * scale.
    for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-6f * (1.0f + std::fabs(want[i]))) << name(dtype) << " element " << i;
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaGetRows,
                         ::testing::Values(DType::f32, DType::f16, DType::bf16, DType::q4_0, DType::q8_0, DType::q4_k,
                                           DType::q5_k, DType::q6_k),
                         [](const auto& info) { return std::string(name(info.param)); });

// The split layout (weight_slices.cuh) made a few rows at a time gives the bytes it gives in one
// pass, and reads back as the file's blocks: the first rows, the last, and a chunk's edges.
TEST(CudaWeightLayout, UploadInChunksGivesTheLayoutOfOnePass) {
    SLM_REQUIRE_CUDA();
    for (const DType dtype : {DType::q4_0, DType::q8_0, DType::q6_k, DType::q4_k}) {
        const int64_t V = 50, D = 768;
        const OwnedTensor E = kernels::test::random_weights(dtype, V, D, 5);
        const DeviceTensor whole(E.tensor);
        DeviceTensor chunked(E.tensor);
        copy_weight_to_device(E.tensor, chunked.buffer.data(), 3 * E.tensor.row_bytes());
        const size_t bytes = E.tensor.nbytes();
        EXPECT_EQ(to_host<uint8_t>(whole.buffer, bytes), to_host<uint8_t>(chunked.buffer, bytes)) << name(dtype);
        const std::vector<int32_t> ids = {0, 2, 3, 47, 48, 49};
        const int64_t T = int64_t(ids.size());
        const DeviceBuffer dids = to_device(ids);
        const DeviceBuffer dout = DeviceBuffer::allocate(size_t(T * D) * sizeof(float));
        get_rows(chunked.tensor, dids.as<int32_t>(), T, dout.as<float>(), nullptr);
        const std::vector<float> got = to_host<float>(dout, size_t(T * D));
        std::vector<float> want(size_t(T * D));
        kernels::ref::get_rows(E.tensor, ids.data(), T, want.data());
        for (size_t i = 0; i < want.size(); ++i)
            ASSERT_NEAR(got[i], want[i], 1e-6f * (1.0f + std::fabs(want[i]))) << name(dtype) << " element " << i;
    }
}

TEST(CudaOps, RmsNormMatchesReference) {
    SLM_REQUIRE_CUDA();
    for (const int64_t D : {1, 64, 300, 4096, 5000}) {
        const int64_t T = 3;
        const std::vector<float> x = kernels::test::random_floats(size_t(T * D), 1, 3.0f);
        const std::vector<float> w = kernels::test::random_floats(size_t(D), 2);
        const DeviceBuffer dx = to_device(x), dw = to_device(w);
        const DeviceBuffer dout = DeviceBuffer::allocate(x.size() * sizeof(float));
        rms_norm(dx.as<float>(), dw.as<float>(), T, D, 1e-5f, dout.as<float>(), nullptr);
        std::vector<float> want(x.size());
        kernels::ref::rms_norm(x.data(), w.data(), T, D, 1e-5f, want.data());
        EXPECT_LT(nmse(to_host<float>(dout, x.size()), want), 1e-12) << "D=" << D;
        // In place, as the forward calls it.
        rms_norm(dx.as<float>(), dw.as<float>(), T, D, 1e-5f, dx.as<float>(), nullptr);
        EXPECT_LT(nmse(to_host<float>(dx, x.size()), want), 1e-12) << "in place, D=" << D;
    }
}

TEST(CudaOps, RopeMatchesReferenceInBothPairings) {
    SLM_REQUIRE_CUDA();
    const int64_t T = 5, H = 6, Dh = 128;
    const std::vector<int32_t> positions = {0, 1, 17, 4095, 131071};
    std::vector<float> inv_freq(size_t(Dh / 2));
    for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = float(std::pow(500000.0, -2.0 * double(i) / double(Dh)));
    const float mscale = 1.25f;
    const DeviceBuffer dpos = to_device(positions), dfreq = to_device(inv_freq);
    const DeviceBuffer dcs = DeviceBuffer::allocate(size_t(T * Dh) * sizeof(float));
    rope_angles(dpos.as<int32_t>(), T, Dh, dfreq.as<float>(), mscale, dcs.as<float>(), nullptr);
    for (const kernels::RopeMode mode : {kernels::RopeMode::normal, kernels::RopeMode::neox}) {
        const std::vector<float> x = kernels::test::random_floats(size_t(T * H * Dh), 9);
        const DeviceBuffer dx = to_device(x);
        cuda::rope(dx.as<float>(), T, H, Dh, dcs.as<float>(), mode, nullptr);  // not ADL's kernels::rope
        std::vector<float> want = x;
        kernels::ref::rope(want.data(), T, H, Dh, positions.data(), inv_freq.data(), mscale, mode);
        EXPECT_LT(nmse(to_host<float>(dx, x.size()), want), 1e-12) << (mode == kernels::RopeMode::neox ? "neox" : "normal");
    }
}

TEST(CudaOps, SiluMulAddAndSoftmaxMatchReference) {
    SLM_REQUIRE_CUDA();
    const int64_t n = 11008 + 3;
    const std::vector<float> gate = kernels::test::random_floats(size_t(n), 3, 4.0f);
    const std::vector<float> up = kernels::test::random_floats(size_t(n), 4);
    const DeviceBuffer dg = to_device(gate), du = to_device(up);
    const DeviceBuffer dout = DeviceBuffer::allocate(size_t(n) * sizeof(float));
    silu_mul(dg.as<float>(), du.as<float>(), n, dout.as<float>(), nullptr);
    std::vector<float> want(static_cast<size_t>(n));
    kernels::ref::silu_mul(gate.data(), up.data(), n, want.data());
    EXPECT_LT(nmse(to_host<float>(dout, size_t(n)), want), 1e-12);

    add(dout.as<float>(), du.as<float>(), n, nullptr);
    for (size_t i = 0; i < want.size(); ++i) want[i] += up[i];
    EXPECT_LT(nmse(to_host<float>(dout, size_t(n)), want), 1e-12);

    for (const int64_t cols : {1, 7, 32000}) {
        const int64_t T = 3;
        const std::vector<float> logits = kernels::test::random_floats(size_t(T * cols), 5, 8.0f);
        const DeviceBuffer dl = to_device(logits);
        softmax(dl.as<float>(), T, cols, nullptr);
        std::vector<float> p = logits;
        kernels::ref::softmax(p.data(), T, cols);
        EXPECT_LT(nmse(to_host<float>(dl, logits.size()), p), 1e-12) << "row length " << cols;
    }
}


TEST(CudaOps, LayerNormMatchesReferenceWithAndWithoutAffine) {
    SLM_REQUIRE_CUDA();
    for (const int64_t D : {1, 80, 2560, 5001}) {
        const int64_t T = 3;
        // An offset mean, as LayerNorm's inputs have: the two-pass variance must not cancel.
        std::vector<float> x = kernels::test::random_floats(size_t(T * D), 11, 2.0f);
        for (float& v : x) v += 30.0f;
        const std::vector<float> w = kernels::test::random_floats(size_t(D), 12);
        const std::vector<float> b = kernels::test::random_floats(size_t(D), 13);
        const DeviceBuffer dx = to_device(x), dw = to_device(w), db = to_device(b);
        const DeviceBuffer dout = DeviceBuffer::allocate(x.size() * sizeof(float));
        for (const bool affine : {true, false}) {
            layer_norm(dx.as<float>(), affine ? dw.as<float>() : nullptr, affine ? db.as<float>() : nullptr, T, D, 1e-5f,
                       dout.as<float>(), nullptr);
            std::vector<float> want(x.size());
            kernels::ref::layer_norm(x.data(), affine ? w.data() : nullptr, affine ? b.data() : nullptr, T, D, 1e-5f,
                                     want.data());
            EXPECT_LT(nmse(to_host<float>(dout, x.size()), want), 1e-11) << "D=" << D << " affine=" << affine;
        }
    }
}

TEST(CudaOps, PartialRopeTurnsOnlyTheFirstDimensions) {
    SLM_REQUIRE_CUDA();
    // Phi-2: heads of 80, the first 32 turned.
    const int64_t T = 4, H = 3, Dh = 80, rot = 32;
    const std::vector<int32_t> positions = {0, 5, 999, 2047};
    std::vector<float> inv_freq(size_t(rot / 2));
    for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = float(std::pow(10000.0, -2.0 * double(i) / double(rot)));
    const DeviceBuffer dpos = to_device(positions), dfreq = to_device(inv_freq);
    const DeviceBuffer dcs = DeviceBuffer::allocate(size_t(T * rot) * sizeof(float));
    rope_angles(dpos.as<int32_t>(), T, rot, dfreq.as<float>(), 1.0f, dcs.as<float>(), nullptr);
    for (const kernels::RopeMode mode : {kernels::RopeMode::normal, kernels::RopeMode::neox}) {
        const std::vector<float> x = kernels::test::random_floats(size_t(T * H * Dh), 14);
        const DeviceBuffer dx = to_device(x);
        cuda::rope(dx.as<float>(), T, H, Dh, dcs.as<float>(), mode, nullptr, rot);
        std::vector<float> want = x;
        kernels::ref::rope(want.data(), T, H, Dh, positions.data(), inv_freq.data(), 1.0f, mode, rot);
        const std::vector<float> got = to_host<float>(dx, x.size());
        EXPECT_LT(nmse(got, want), 1e-12);
        for (int64_t th = 0; th < T * H; ++th)
            for (int64_t d = rot; d < Dh; ++d) ASSERT_EQ(got[size_t(th * Dh + d)], x[size_t(th * Dh + d)]);
    }
    EXPECT_THROW(cuda::rope(nullptr, T, H, Dh, nullptr, kernels::RopeMode::neox, nullptr, 31), Error);
}

TEST(CudaOps, GeluActivationsSoftcapAndScalingMatchReference) {
    SLM_REQUIRE_CUDA();
    const int64_t n = 10240 + 5;
    const std::vector<float> gate = kernels::test::random_floats(size_t(n), 15, 6.0f);
    const std::vector<float> up = kernels::test::random_floats(size_t(n), 16);
    const DeviceBuffer dg = to_device(gate), du = to_device(up);
    const DeviceBuffer dout = DeviceBuffer::allocate(size_t(n) * sizeof(float));
    std::vector<float> want(static_cast<size_t>(n));
    gelu_tanh_mul(dg.as<float>(), du.as<float>(), n, dout.as<float>(), nullptr);
    kernels::ref::gelu_tanh_mul(gate.data(), up.data(), n, want.data());
    EXPECT_LT(nmse(to_host<float>(dout, size_t(n)), want), 1e-12) << "gelu_tanh_mul";
    gelu_mul(dg.as<float>(), du.as<float>(), n, dout.as<float>(), nullptr);
    kernels::ref::gelu_mul(gate.data(), up.data(), n, want.data());
    EXPECT_LT(nmse(to_host<float>(dout, size_t(n)), want), 1e-12) << "gelu_mul";
    gelu_tanh(dg.as<float>(), n, dout.as<float>(), nullptr);
    kernels::ref::gelu_tanh(gate.data(), n, want.data());
    EXPECT_LT(nmse(to_host<float>(dout, size_t(n)), want), 1e-12) << "gelu_tanh";
    gelu(dg.as<float>(), n, dout.as<float>(), nullptr);
    kernels::ref::gelu(gate.data(), n, want.data());
    EXPECT_LT(nmse(to_host<float>(dout, size_t(n)), want), 1e-12) << "gelu";

    // Logits of +-200 against a cap of 30 (Gemma 2), then the embedding scale.
    const std::vector<float> logits = kernels::test::random_floats(size_t(n), 17, 200.0f);
    const DeviceBuffer dl = to_device(logits);
    softcap(dl.as<float>(), n, 30.0f, nullptr);
    std::vector<float> capped = logits;
    kernels::ref::softcap(capped.data(), n, 30.0f);
    EXPECT_LT(nmse(to_host<float>(dl, size_t(n)), capped), 1e-12) << "softcap";
    multiply(dl.as<float>(), n, 48.0f, nullptr);
    for (float& v : capped) v *= 48.0f;
    EXPECT_LT(nmse(to_host<float>(dl, size_t(n)), capped), 1e-12) << "multiply";
    EXPECT_THROW(softcap(dl.as<float>(), n, 0.0f, nullptr), Error);
}

TEST(CudaOps, AddBiasRepeatsTheBiasOverRows) {
    SLM_REQUIRE_CUDA();
    const int64_t T = 7, D = 2560 + 1;
    const std::vector<float> y = kernels::test::random_floats(size_t(T * D), 18);
    const std::vector<float> b = kernels::test::random_floats(size_t(D), 19);
    const DeviceBuffer dy = to_device(y), db = to_device(b);
    add_bias(dy.as<float>(), db.as<float>(), T, D, nullptr);
    std::vector<float> want = y;
    kernels::add_bias(want.data(), b.data(), T, D);
    EXPECT_EQ(to_host<float>(dy, y.size()), want);
}

TEST(CudaOps, StoreF16RoundsAsTheCpuCache) {
    SLM_REQUIRE_CUDA();
    std::vector<float> x = kernels::test::random_floats(1000, 20, 100.0f);
    x.insert(x.end(), {0.0f, -0.0f, 65504.0f, 1e-7f, -3.0e-5f, 70000.0f});
    const DeviceBuffer dx = to_device(x);
    const DeviceBuffer dout = DeviceBuffer::allocate(x.size() * sizeof(uint16_t));
    store_f16(dx.as<float>(), int64_t(x.size()), dout.data(), nullptr);
    const std::vector<uint16_t> got = to_host<uint16_t>(dout, x.size());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(got[i], f32_to_f16(x[i])) << "value " << x[i];
}

// rms_norm and the gated activations can write their output's 8-bit copy for the next matvec:
// the same bits as the output quantized by quantize_activations, and the same output as without.
TEST(CudaOps, FusedQuantizationGivesTheBitsOfQuantizeActivations) {
    SLM_REQUIRE_CUDA();
    const int64_t T = 3, D = 4096 + 64;
    const std::vector<float> x = kernels::test::random_floats(size_t(T * D), 22, 3.0f);
    const std::vector<float> w = kernels::test::random_floats(size_t(D), 23);
    const DeviceBuffer dx = to_device(x), dw = to_device(w);
    const size_t q8_bytes = q8_activations_bytes(T, D);
    auto quantized = [&](const DeviceBuffer& out) {
        const DeviceBuffer q8 = DeviceBuffer::allocate(q8_bytes);
        quantize_activations(out.as<float>(), T, D, q8.data(), nullptr);
        return to_host<uint8_t>(q8, q8_bytes);
    };
    auto check = [&](const char* op, auto run) {
        const DeviceBuffer plain = DeviceBuffer::allocate(x.size() * sizeof(float));
        const DeviceBuffer fused = DeviceBuffer::allocate(x.size() * sizeof(float));
        const DeviceBuffer q8 = DeviceBuffer::allocate(q8_bytes);
        run(plain.as<float>(), nullptr);
        run(fused.as<float>(), q8.data());
        EXPECT_EQ(to_host<float>(fused, x.size()), to_host<float>(plain, x.size())) << op;
        EXPECT_EQ(to_host<uint8_t>(q8, q8_bytes), quantized(plain)) << op;
    };
    check("rms_norm",
          [&](float* out, void* q8) { rms_norm(dx.as<float>(), dw.as<float>(), T, D, 1e-5f, out, nullptr, q8); });
    const DeviceBuffer dup = to_device(kernels::test::random_floats(x.size(), 24));
    const int64_t n = T * D;
    check("silu_mul", [&](float* out, void* q8) { silu_mul(dx.as<float>(), dup.as<float>(), n, out, nullptr, q8); });
    check("gelu_tanh_mul",
          [&](float* out, void* q8) { gelu_tanh_mul(dx.as<float>(), dup.as<float>(), n, out, nullptr, q8); });
    check("gelu_mul", [&](float* out, void* q8) { gelu_mul(dx.as<float>(), dup.as<float>(), n, out, nullptr, q8); });
    // A length that is not whole groups of 32 is refused before anything runs.
    const DeviceBuffer q8 = DeviceBuffer::allocate(q8_bytes);
    EXPECT_THROW(silu_mul(dx.as<float>(), dup.as<float>(), n - 1, dx.as<float>(), nullptr, q8.data()), Error);
}

// Each token's keys go to the cache row its position names (read on the device), in either cache
// type; rows no position names stay as they were.
TEST(CudaOps, StoreKvWritesEachRowAtItsPosition) {
    SLM_REQUIRE_CUDA();
    const int64_t S = 16, n = 40;
    const std::vector<int32_t> positions = {3, 4, 5, 11};
    const int64_t T = int64_t(positions.size());
    const std::vector<float> rows = kernels::test::random_floats(size_t(T * n), 21, 10.0f);
    const DeviceBuffer drows = to_device(rows), dpos = to_device(positions);
    for (const DType dtype : {DType::f16, DType::f32}) {
        const size_t elt = dtype == DType::f16 ? 2 : 4;
        std::vector<uint8_t> cache(size_t(S * n) * elt, 0x5a);
        const DeviceBuffer dcache = to_device(cache);
        store_kv(drows.as<float>(), T, n, dcache.data(), dtype, dpos.as<int32_t>(), nullptr);
        std::vector<uint8_t> want = cache;
        for (int64_t t = 0; t < T; ++t)
            for (int64_t j = 0; j < n; ++j) {
                const float x = rows[size_t(t * n + j)];
                uint8_t* slot = want.data() + (size_t(positions[size_t(t)]) * size_t(n) + size_t(j)) * elt;
                if (dtype == DType::f16) {
                    const uint16_t h = f32_to_f16(x);
                    std::memcpy(slot, &h, 2);
                } else {
                    std::memcpy(slot, &x, 4);
                }
            }
        EXPECT_EQ(to_host<uint8_t>(dcache, cache.size()), want) << name(dtype);
    }
}

// The fused forms of a decode step's small ops give the bits of the ops they stand for: x +=
// residual then rms_norm (with the 8-bit copy), q and k turned in one launch, keys and values
// stored in one launch.
TEST(CudaOps, FusedStepOpsGiveTheBitsOfTheirParts) {
    SLM_REQUIRE_CUDA();
    const int64_t T = 3, D = 4096 + 64;
    const std::vector<float> x = kernels::test::random_floats(size_t(T * D), 25, 3.0f);
    const std::vector<float> r = kernels::test::random_floats(size_t(T * D), 26, 2.0f);
    const std::vector<float> w = kernels::test::random_floats(size_t(D), 27);
    const DeviceBuffer dr = to_device(r), dw = to_device(w);
    const size_t q8_bytes = q8_activations_bytes(T, D);
    {
        const DeviceBuffer x_parts = to_device(x), x_fused = to_device(x);
        const DeviceBuffer out_parts = DeviceBuffer::allocate(x.size() * 4);
        const DeviceBuffer out_fused = DeviceBuffer::allocate(x.size() * 4);
        const DeviceBuffer q8_parts = DeviceBuffer::allocate(q8_bytes), q8_fused = DeviceBuffer::allocate(q8_bytes);
        add(x_parts.as<float>(), dr.as<float>(), T * D, nullptr);
        rms_norm(x_parts.as<float>(), dw.as<float>(), T, D, 1e-5f, out_parts.as<float>(), nullptr);
        quantize_activations(out_parts.as<float>(), T, D, q8_parts.data(), nullptr);
        add_rms_norm(x_fused.as<float>(), dr.as<float>(), dw.as<float>(), T, D, 1e-5f, out_fused.as<float>(), nullptr,
                     q8_fused.data());
        EXPECT_EQ(to_host<float>(x_fused, x.size()), to_host<float>(x_parts, x.size()));
        EXPECT_EQ(to_host<float>(out_fused, x.size()), to_host<float>(out_parts, x.size()));
        EXPECT_EQ(to_host<uint8_t>(q8_fused, q8_bytes), to_host<uint8_t>(q8_parts, q8_bytes));
    }
    {
        const int64_t Tr = 5, H = 8, Hkv = 2, Dh = 64;
        std::vector<int32_t> positions = {0, 7, 100, 4095, 131071};
        const DeviceBuffer dpos = to_device(positions);
        std::vector<float> inv_freq(size_t(Dh / 2));
        for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * float(i) / float(Dh));
        const DeviceBuffer dfreq = to_device(inv_freq), cos_sin = DeviceBuffer::allocate(size_t(Tr * Dh) * 4);
        rope_angles(dpos.as<int32_t>(), Tr, Dh, dfreq.as<float>(), 1.0f, cos_sin.as<float>(), nullptr);
        const std::vector<float> q = kernels::test::random_floats(size_t(Tr * H * Dh), 28);
        const std::vector<float> k = kernels::test::random_floats(size_t(Tr * Hkv * Dh), 29);
        for (const kernels::RopeMode mode : {kernels::RopeMode::neox, kernels::RopeMode::normal}) {
            const DeviceBuffer q1 = to_device(q), k1 = to_device(k), q2 = to_device(q), k2 = to_device(k);
            cuda::rope(q1.as<float>(), Tr, H, Dh, cos_sin.as<float>(), mode, nullptr);
            cuda::rope(k1.as<float>(), Tr, Hkv, Dh, cos_sin.as<float>(), mode, nullptr);
            rope_qk(q2.as<float>(), H, k2.as<float>(), Hkv, Tr, Dh, cos_sin.as<float>(), mode, nullptr);
            EXPECT_EQ(to_host<float>(q2, q.size()), to_host<float>(q1, q.size()));
            EXPECT_EQ(to_host<float>(k2, k.size()), to_host<float>(k1, k.size()));
        }
        // rope and the KV store in one launch, against rope_qk then store_kv: whole and partial
        // rotation (Phi-2), both pair orders, both cache types.
        const std::vector<float> v = kernels::test::random_floats(size_t(Tr * Hkv * Dh), 32);
        const DeviceBuffer dv = to_device(v);
        const int64_t S = 32, n = Hkv * Dh;
        const DeviceBuffer slots = to_device(std::vector<int32_t>{2, 9, 15, 0, 31});
        for (const int64_t rot : {Dh, Dh / 2})
            for (const kernels::RopeMode mode : {kernels::RopeMode::neox, kernels::RopeMode::normal})
                for (const DType dtype : {DType::f16, DType::f32}) {
                    const size_t bytes = size_t(S * n) * (dtype == DType::f16 ? 2 : 4);
                    const std::vector<uint8_t> blank(bytes, 0x5a);
                    const DeviceBuffer q1 = to_device(q), k1 = to_device(k), q2 = to_device(q), k2 = to_device(k);
                    const DeviceBuffer kc1 = to_device(blank), vc1 = to_device(blank);
                    const DeviceBuffer kc2 = to_device(blank), vc2 = to_device(blank);
                    rope_qk(q1.as<float>(), H, k1.as<float>(), Hkv, Tr, Dh, cos_sin.as<float>(), mode, nullptr, rot);
                    store_kv(k1.as<float>(), dv.as<float>(), Tr, n, kc1.data(), vc1.data(), dtype,
                             slots.as<int32_t>(), nullptr);
                    rope_store_kv(q2.as<float>(), H, k2.as<float>(), Hkv, dv.as<float>(), Tr, Dh, cos_sin.as<float>(),
                                  mode, kc2.data(), vc2.data(), dtype, slots.as<int32_t>(), nullptr, rot);
                    const std::string what = "rot " + std::to_string(rot) + " mode " + std::to_string(int(mode)) +
                                             " " + std::string(name(dtype));
                    EXPECT_EQ(to_host<float>(q2, q.size()), to_host<float>(q1, q.size())) << what;
                    EXPECT_EQ(to_host<float>(k2, k.size()), to_host<float>(k1, k.size())) << what;
                    EXPECT_EQ(to_host<uint8_t>(kc2, bytes), to_host<uint8_t>(kc1, bytes)) << what;
                    EXPECT_EQ(to_host<uint8_t>(vc2, bytes), to_host<uint8_t>(vc1, bytes)) << what;
                }
    }
    {
        const int64_t S = 16, n = 40;
        const std::vector<int32_t> positions = {2, 9, 15};
        const int64_t Tk = int64_t(positions.size());
        const DeviceBuffer dpos = to_device(positions);
        const DeviceBuffer keys = to_device(kernels::test::random_floats(size_t(Tk * n), 30, 5.0f));
        const DeviceBuffer values = to_device(kernels::test::random_floats(size_t(Tk * n), 31, 5.0f));
        for (const DType dtype : {DType::f16, DType::f32}) {
            const size_t bytes = size_t(S * n) * (dtype == DType::f16 ? 2 : 4);
            const std::vector<uint8_t> blank(bytes, 0x5a);
            const DeviceBuffer k1 = to_device(blank), v1 = to_device(blank);
            const DeviceBuffer k2 = to_device(blank), v2 = to_device(blank);
            store_kv(keys.as<float>(), Tk, n, k1.data(), dtype, dpos.as<int32_t>(), nullptr);
            store_kv(values.as<float>(), Tk, n, v1.data(), dtype, dpos.as<int32_t>(), nullptr);
            store_kv(keys.as<float>(), values.as<float>(), Tk, n, k2.data(), v2.data(), dtype, dpos.as<int32_t>(),
                     nullptr);
            EXPECT_EQ(to_host<uint8_t>(k2, bytes), to_host<uint8_t>(k1, bytes)) << name(dtype);
            EXPECT_EQ(to_host<uint8_t>(v2, bytes), to_host<uint8_t>(v1, bytes)) << name(dtype);
        }
    }
}

}  // namespace
}  // namespace slm::cuda
