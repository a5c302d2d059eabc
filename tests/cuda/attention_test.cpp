// The CUDA split-key attention against the reference (kernels::ref::attention): f16 and f32
// caches, grouped kv heads, head sizes of every family (64, 80, 128, 256), caches from one key to
// many splits, several query tokens at their own positions, sliding windows and soft-capping.
#include "cuda/cuda_testing.h"
#include "kernels/cuda/ops.h"
#include "kernels/random_data.h"

#include <slm/half.h>
#include <slm/kernels.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace slm::cuda {
namespace {

using test::nmse;
using test::to_device;
using test::to_host;

struct Case {
    int64_t T, H, Hkv, Dh, S;
    int window;
    float softcap;
    DType cache;
};

// The output of one launch with S keys bounding the queries' positions.
std::vector<float> run_attention(const Case& c, int64_t S, const std::vector<float>& q, const DeviceBuffer& dk,
                                 const DeviceBuffer& dv, const std::vector<int32_t>& q_pos) {
    const DeviceBuffer dq = to_device(q), dpos = to_device(q_pos);
    const DeviceBuffer dout = DeviceBuffer::allocate(q.size() * sizeof(float));
    const DeviceBuffer scratch = DeviceBuffer::allocate(attention_scratch_bytes(c.T, c.H, c.Dh, S));
    attention(dq.as<float>(), c.T, c.H, c.Hkv, c.Dh, dk.data(), dv.data(), c.cache, S, dpos.as<int32_t>(), c.window,
              1.0f / std::sqrt(float(c.Dh)), dout.as<float>(), scratch.data(), nullptr, c.softcap);
    return to_host<float>(dout, q.size());
}

void expect_matches_reference(const Case& c, const std::vector<int32_t>& q_pos) {
    const std::vector<float> q = kernels::test::random_floats(size_t(c.T * c.H * c.Dh), 31);
    const size_t cache_elems = size_t(c.S * c.Hkv * c.Dh);
    const std::vector<float> k = kernels::test::random_floats(cache_elems, 32), v = kernels::test::random_floats(cache_elems, 33);
    std::vector<uint16_t> k16(cache_elems), v16(cache_elems);
    for (size_t i = 0; i < cache_elems; ++i) k16[i] = f32_to_f16(k[i]), v16[i] = f32_to_f16(v[i]);
    const bool f16 = c.cache == DType::f16;
    const void* host_k = f16 ? static_cast<const void*>(k16.data()) : k.data();
    const void* host_v = f16 ? static_cast<const void*>(v16.data()) : v.data();
    const size_t cache_bytes = cache_elems * (f16 ? 2 : 4);

    const DeviceBuffer dq = to_device(q), dpos = to_device(q_pos);
    const DeviceBuffer dk = DeviceBuffer::allocate(cache_bytes), dv = DeviceBuffer::allocate(cache_bytes);
    copy_to_device(dk.data(), host_k, cache_bytes);
    copy_to_device(dv.data(), host_v, cache_bytes);
    const DeviceBuffer dout = DeviceBuffer::allocate(q.size() * sizeof(float));
    const DeviceBuffer scratch = DeviceBuffer::allocate(attention_scratch_bytes(c.T, c.H, c.Dh, c.S));
    const float scale = 1.0f / std::sqrt(float(c.Dh));
    attention(dq.as<float>(), c.T, c.H, c.Hkv, c.Dh, dk.data(), dv.data(), c.cache, c.S, dpos.as<int32_t>(), c.window,
              scale, dout.as<float>(), scratch.data(), nullptr, c.softcap);
    const std::vector<float> got = to_host<float>(dout, q.size());

    std::vector<float> want(q.size());
    kernels::ref::attention(q.data(), c.T, c.H, c.Hkv, c.Dh, host_k, host_v, c.cache, c.S, q_pos.data(), c.window, scale,
                            want.data(), c.softcap);
    EXPECT_LT(nmse(got, want), 1e-10) << "T=" << c.T << " H=" << c.H << " Hkv=" << c.Hkv << " Dh=" << c.Dh
                                      << " S=" << c.S << " window=" << c.window << " softcap=" << c.softcap << " "
                                      << name(c.cache);
}

// Decode: one query at the last position, the whole cache visible.
TEST(CudaAttention, DecodeMatchesReference) {
    SLM_REQUIRE_CUDA();
    const Case cases[] = {
        {1, 8, 8, 64, 1, 0, 0, DType::f16},       {1, 32, 8, 128, 1000, 0, 0, DType::f16},
        {1, 32, 32, 80, 333, 0, 0, DType::f16},   {1, 8, 4, 256, 4100, 0, 0, DType::f16},
        {1, 14, 2, 64, 129, 0, 0, DType::f32},    {1, 16, 8, 128, 70, 0, 50.0f, DType::f16},
        {1, 4, 1, 96, 6000, 0, 0, DType::f32},
    };
    for (const Case& c : cases) expect_matches_reference(c, {int32_t(c.S - 1)});
}

// Several query tokens, each seeing the cache up to its own position; sliding windows.
TEST(CudaAttention, SeveralTokensAndWindowsMatchReference) {
    SLM_REQUIRE_CUDA();
    expect_matches_reference({4, 8, 2, 128, 600, 0, 0, DType::f16}, {596, 597, 598, 599});
    expect_matches_reference({4, 8, 2, 128, 600, 256, 0, DType::f16}, {596, 597, 598, 599});
    expect_matches_reference({3, 6, 3, 64, 40, 0, 0, DType::f32}, {0, 5, 39});
    // A window of 1: each query sees only itself.
    expect_matches_reference({2, 4, 4, 64, 10, 1, 0, DType::f16}, {3, 9});
}

// A query whose window has moved past the cache sees no key: zeros, as the reference writes.
TEST(CudaAttention, NoVisibleKeyGivesZeros) {
    SLM_REQUIRE_CUDA();
    expect_matches_reference({1, 4, 4, 64, 16, 4, 0, DType::f16}, {40});
}

// A captured decode step launches attention sized for the whole cache (S = its capacity) at every
// position; it must give what a launch sized for the keys written so far gives, bit for bit, so
// that a replayed step and an eager one agree exactly.
TEST(CudaAttention, ALaunchSizedForTheWholeCacheGivesTheSameBits) {
    SLM_REQUIRE_CUDA();
    const Case c{3, 8, 2, 128, 4096, 0, 0, DType::f16};
    const size_t cache_elems = size_t(c.S * c.Hkv * c.Dh);
    const std::vector<float> k = kernels::test::random_floats(cache_elems, 34);
    const std::vector<float> v = kernels::test::random_floats(cache_elems, 35);
    std::vector<uint16_t> k16(cache_elems), v16(cache_elems);
    for (size_t i = 0; i < cache_elems; ++i) k16[i] = f32_to_f16(k[i]), v16[i] = f32_to_f16(v[i]);
    const DeviceBuffer dk = to_device(k16), dv = to_device(v16);
    const std::vector<float> q = kernels::test::random_floats(size_t(c.T * c.H * c.Dh), 36);
    for (const int32_t last : {0, 5, 127, 128, 1000, 2500, 4095}) {
        const std::vector<int32_t> q_pos = {std::max(0, last - 2), std::max(0, last - 1), last};
        EXPECT_EQ(run_attention(c, c.S, q, dk, dv, q_pos), run_attention(c, int64_t(last) + 1, q, dk, dv, q_pos))
            << "last position " << last;
    }
}

}  // namespace
}  // namespace slm::cuda
