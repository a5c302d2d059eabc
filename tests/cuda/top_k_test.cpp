// The GPU's top-k selection (a sampler's candidates) against kernels::top_k, exactly: the same
// ids in the same order and the same values, over vocabulary-sized rows, rows of one chunk and
// a chunk plus a few, many-way ties, infinities, and every k up to the kernel's bound.
#include "cuda/cuda_testing.h"
#include "kernels/cuda/ops.h"

#include <slm/error.h>
#include <slm/kernels.h>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace slm::cuda {
namespace {

using test::to_device;

void expect_top_k_matches(const std::vector<float>& x, int64_t T, int k, const char* what) {
    const int64_t n = int64_t(x.size()) / T;
    std::vector<int32_t> want_ids(size_t(T * k));
    std::vector<float> want_values(size_t(T * k));
    kernels::top_k(x.data(), T, n, k, want_ids.data(), want_values.data());

    const DeviceBuffer dx = to_device(x);
    const DeviceBuffer keys = DeviceBuffer::allocate(size_t(T * k) * sizeof(uint64_t));
    const DeviceBuffer scratch = DeviceBuffer::allocate(top_k_scratch_bytes(T, n, k));
    top_k(dx.as<float>(), T, n, k, keys.as<uint64_t>(), scratch.data(), nullptr);
    const std::vector<uint64_t> host_keys = test::to_host<uint64_t>(keys, size_t(T * k));
    std::vector<int32_t> ids(size_t(T * k));
    std::vector<float> values(size_t(T * k));
    read_top_k(host_keys.data(), T * k, ids.data(), values.data());
    for (size_t i = 0; i < ids.size(); ++i) {
        ASSERT_EQ(ids[i], want_ids[i]) << what << ": n " << n << ", k " << k << ", row " << i / size_t(k) << ", rank "
                                       << i % size_t(k);
        ASSERT_EQ(values[i], want_values[i]) << what << ": n " << n << ", k " << k << ", entry " << i;
    }
}

std::vector<float> normal_rows(int64_t T, int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    std::vector<float> x(size_t(T * n));
    for (float& v : x) v = dist(rng);
    return x;
}

TEST(CudaTopK, VocabularyRowsGiveTheCpuCandidatesInOrder) {
    SLM_REQUIRE_CUDA();
    for (const int64_t n : {32000, 151936}) {
        const std::vector<float> x = normal_rows(3, n, uint32_t(n));
        for (const int k : {1, 2, 40, 50, 128}) expect_top_k_matches(x, 3, k, "normal logits");
    }
}

TEST(CudaTopK, ShortRowsAndChunkEdges) {
    SLM_REQUIRE_CUDA();
    // one value; k = n; one chunk exactly; one chunk and one value; several chunks and a part
    for (const int64_t n : {1, 5, 128, 1023, 1024, 1025, 4 * 1024 + 7, 33 * 1024 + 1}) {
        const std::vector<float> x = normal_rows(2, n, 7);
        for (const int k : {1, 5, 40, 128})
            if (k <= n) expect_top_k_matches(x, 2, k, "short rows");
    }
}

TEST(CudaTopK, TiesGoToTheLowerIndexAndInfinitiesCount) {
    SLM_REQUIRE_CUDA();
    const int64_t n = 20000, T = 4;
    std::vector<float> x = normal_rows(T, n, 3);
    // Row 0: eight levels only (thousands-way ties); row 1: all equal; row 2: -inf but a few
    // (a logit bias that bans tokens); row 3: +inf twice and signed zeros.
    for (int64_t i = 0; i < n; ++i) x[size_t(i)] = std::round(x[size_t(i)] / 3.0f);
    for (int64_t i = 0; i < n; ++i) x[size_t(n + i)] = 0.5f;
    for (int64_t i = 0; i < n; ++i) x[size_t(2 * n + i)] = (i % 997 == 3) ? float(i) : -std::numeric_limits<float>::infinity();
    x[size_t(3 * n + 17)] = x[size_t(3 * n + 19000)] = std::numeric_limits<float>::infinity();
    for (int64_t i = 100; i < 200; ++i) x[size_t(3 * n + i)] = (i % 2) ? -0.0f : 0.0f;
    for (const int k : {1, 3, 40, 128}) expect_top_k_matches(x, T, k, "ties and infinities");
}

TEST(CudaTopK, RefusesKOutsideItsRange) {
    SLM_REQUIRE_CUDA();
    const DeviceBuffer dx = to_device(std::vector<float>(100, 1.0f));
    const DeviceBuffer keys = DeviceBuffer::allocate(1000 * sizeof(uint64_t));
    const DeviceBuffer scratch = DeviceBuffer::allocate(top_k_scratch_bytes(1, 100, 101));
    EXPECT_THROW(top_k(dx.as<float>(), 1, 100, 0, keys.as<uint64_t>(), scratch.data(), nullptr), Error);
    EXPECT_THROW(top_k(dx.as<float>(), 1, 100, 101, keys.as<uint64_t>(), scratch.data(), nullptr), Error);
    EXPECT_THROW(top_k(dx.as<float>(), 1, 1000, kMaxTopK + 1, keys.as<uint64_t>(), scratch.data(), nullptr), Error);
}

}  // namespace
}  // namespace slm::cuda
