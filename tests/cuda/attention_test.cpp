// The CUDA attention against the reference (kernels::ref::attention): the split-key kernel (decode)
// and the tensor-core one (prompts of 16 queries or more); f16 and f32 caches, grouped kv heads,
// head sizes of every family (64, 80, 96, 128, 256), caches from one key to many splits, query
// tokens at their own positions, sliding windows and soft-capping.
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
    const DeviceBuffer counts = DeviceBuffer::allocate_zeroed(size_t(c.T * c.H) * sizeof(unsigned));
    attention(dq.as<float>(), c.T, c.H, c.Hkv, c.Dh, dk.data(), dv.data(), c.cache, S, dpos.as<int32_t>(), c.window,
              1.0f / std::sqrt(float(c.Dh)), dout.as<float>(), {scratch.data(), counts.as<unsigned>()}, nullptr,
              c.softcap);
    return to_host<float>(dout, q.size());
}

// The split-key kernel computes in f32 (1e-10); the tensor-core one rounds the queries and the
// softmax weights to f16 (about 1e-3 relative each, so a normalised squared error near 1e-6).
constexpr double kF32Bound = 1e-10, kTensorCoreBound = 1e-5;

void expect_matches_reference(const Case& c, const std::vector<int32_t>& q_pos, double bound = kF32Bound) {
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
    const DeviceBuffer counts = DeviceBuffer::allocate_zeroed(size_t(c.T * c.H) * sizeof(unsigned));
    const float scale = 1.0f / std::sqrt(float(c.Dh));
    attention(dq.as<float>(), c.T, c.H, c.Hkv, c.Dh, dk.data(), dv.data(), c.cache, c.S, dpos.as<int32_t>(), c.window,
              scale, dout.as<float>(), {scratch.data(), counts.as<unsigned>()}, nullptr, c.softcap);
    const std::vector<float> got = to_host<float>(dout, q.size());

    std::vector<float> want(q.size());
    kernels::ref::attention(q.data(), c.T, c.H, c.Hkv, c.Dh, host_k, host_v, c.cache, c.S, q_pos.data(), c.window, scale,
                            want.data(), c.softcap);
    EXPECT_LT(nmse(got, want), bound) << "T=" << c.T << " H=" << c.H << " Hkv=" << c.Hkv << " Dh=" << c.Dh
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

// Queries at consecutive positions: a prompt after `past` cached tokens.
std::vector<int32_t> prompt_positions(int64_t T, int64_t past) {
    std::vector<int32_t> pos(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(past + t);
    return pos;
}

// Prompts on the tensor cores: every head size it has an instance for, grouped heads, query
// counts that leave a partial block of 64, a prompt after cached tokens, windows, soft-capping.
TEST(CudaAttention, PromptsOnTheTensorCoresMatchReference) {
    SLM_REQUIRE_CUDA();
    const Case cases[] = {
        {16, 4, 4, 64, 16, 0, 0, DType::f16},    {100, 8, 2, 128, 100, 0, 0, DType::f16},
        {64, 32, 32, 80, 64, 0, 0, DType::f16},  {77, 12, 4, 96, 77, 0, 0, DType::f16},
        {300, 8, 1, 128, 300, 0, 0, DType::f16}, {129, 6, 3, 64, 129, 0, 30.0f, DType::f16},
        {200, 4, 2, 128, 200, 64, 0, DType::f16}, {40, 4, 4, 64, 40, 1, 0, DType::f16},
    };
    for (const Case& c : cases) expect_matches_reference(c, prompt_positions(c.T, 0), kTensorCoreBound);
    // A prompt continuing a conversation: 50 queries after 700 cached keys, with and without a window.
    expect_matches_reference({50, 8, 2, 128, 750, 0, 0, DType::f16}, prompt_positions(50, 700), kTensorCoreBound);
    expect_matches_reference({50, 8, 2, 128, 750, 100, 0, DType::f16}, prompt_positions(50, 700), kTensorCoreBound);
    // Two short runs' worth of queries at scattered positions, as a server batch may hold.
    expect_matches_reference({20, 4, 4, 64, 500, 0, 0, DType::f16},
                             {0, 3, 499, 250, 1, 2, 64, 63, 65, 128, 127, 300, 301, 302, 10, 11, 12, 13, 400, 7},
                             kTensorCoreBound);
}

// Prompts the tensor-core kernel does not take stay on the split-key one, exact in f32: an f32
// cache, and a head size of 256.
TEST(CudaAttention, PromptsWithoutATensorCoreInstanceStayExact) {
    SLM_REQUIRE_CUDA();
    expect_matches_reference({40, 4, 2, 128, 40, 0, 0, DType::f32}, prompt_positions(40, 0));
    expect_matches_reference({33, 4, 2, 256, 33, 0, 0, DType::f16}, prompt_positions(33, 0));
}

// A prompt query whose window has moved past the cache sees no key and gets zeros.
TEST(CudaAttention, PromptQueryWithNoVisibleKeyGivesZeros) {
    SLM_REQUIRE_CUDA();
    std::vector<int32_t> pos = prompt_positions(16, 0);
    pos[5] = 90;  // beyond the 20 keys written, with a window of 4
    expect_matches_reference({16, 4, 4, 64, 20, 4, 0, DType::f16}, pos, kTensorCoreBound);
}

// A server's decode step: sequences with caches of their own in one launch give each sequence
// the bits of its own launch, and the output's 8-bit copy the bits of quantize_activations.
TEST(CudaAttention, SequencesWithTheirOwnCachesInOneLaunchGiveTheBitsOfSeparateLaunches) {
    SLM_REQUIRE_CUDA();
    const int64_t H = 8, Hkv = 2, Dh = 128, row = H * Dh;
    const std::vector<int64_t> lengths = {1, 300, 4096, 77, 129};  // keys written per sequence
    const std::vector<int64_t> queries = {1, 1, 2, 1, 3};           // its queries, at its last positions
    std::vector<DeviceBuffer> keys, values;
    std::vector<AttentionSequence> seqs;
    std::vector<int32_t> q_pos;
    int64_t T = 0;
    for (size_t i = 0; i < lengths.size(); ++i) {
        const size_t elems = size_t(lengths[i] * Hkv * Dh);
        std::vector<uint16_t> k16(elems), v16(elems);
        const std::vector<float> k = kernels::test::random_floats(elems, 40 + uint32_t(i));
        const std::vector<float> v = kernels::test::random_floats(elems, 50 + uint32_t(i));
        for (size_t e = 0; e < elems; ++e) k16[e] = f32_to_f16(k[e]), v16[e] = f32_to_f16(v[e]);
        keys.push_back(to_device(k16));
        values.push_back(to_device(v16));
        for (int64_t j = 0; j < queries[i]; ++j) q_pos.push_back(int32_t(lengths[i] - queries[i] + j));
        T += queries[i];
        seqs.push_back({T, keys.back().data(), values.back().data(), lengths[i]});
    }
    const std::vector<float> q = kernels::test::random_floats(size_t(T * row), 60);
    const DeviceBuffer dq = to_device(q), dpos = to_device(q_pos);
    const DeviceBuffer scratch = DeviceBuffer::allocate(attention_scratch_bytes(T, H, Dh, 4096));
    const DeviceBuffer counts = DeviceBuffer::allocate_zeroed(size_t(T * H) * sizeof(unsigned));
    const AttentionScratch both{scratch.data(), counts.as<unsigned>()};
    const DeviceBuffer dout = DeviceBuffer::allocate(q.size() * sizeof(float));
    const size_t q8_bytes = q8_activations_bytes(T, row);
    const DeviceBuffer q8 = DeviceBuffer::allocate(q8_bytes);
    const float scale = 1.0f / std::sqrt(float(Dh));
    attention(dq.as<float>(), seqs, H, Hkv, Dh, DType::f16, dpos.as<int32_t>(), 0, scale, dout.as<float>(),
              both, nullptr, 0.0f, q8.data());
    const std::vector<float> together = to_host<float>(dout, q.size());

    std::vector<float> apart(q.size());
    int64_t begin = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
        const int64_t n = seqs[i].end - begin;
        const DeviceBuffer one = DeviceBuffer::allocate(size_t(n * row) * sizeof(float));
        attention(dq.as<float>() + begin * row, n, H, Hkv, Dh, keys[i].data(), values[i].data(), DType::f16,
                  lengths[i], dpos.as<int32_t>() + begin, 0, scale, one.as<float>(), both, nullptr);
        const std::vector<float> part = to_host<float>(one, size_t(n * row));
        std::copy(part.begin(), part.end(), apart.begin() + begin * row);
        begin = seqs[i].end;
    }
    EXPECT_EQ(together, apart);
    const DeviceBuffer want_q8 = DeviceBuffer::allocate(q8_bytes);
    quantize_activations(dout.as<float>(), T, row, want_q8.data(), nullptr);
    EXPECT_EQ(to_host<uint8_t>(q8, q8_bytes), to_host<uint8_t>(want_q8, q8_bytes));
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
