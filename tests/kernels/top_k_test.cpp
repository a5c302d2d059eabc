// kernels::top_k against a stable sort of the whole row: the first k of it, ids and values.
#include <slm/kernels.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace slm::kernels {
namespace {

void expect_first_k_of_stable_sort(const std::vector<float>& x, int64_t T, int k) {
    const int64_t n = int64_t(x.size()) / T;
    std::vector<int32_t> ids(size_t(T * k));
    std::vector<float> values(size_t(T * k));
    top_k(x.data(), T, n, k, ids.data(), values.data());
    for (int64_t t = 0; t < T; ++t) {
        std::vector<int32_t> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        const float* row = x.data() + t * n;
        std::stable_sort(order.begin(), order.end(), [row](int32_t a, int32_t b) { return row[a] > row[b]; });
        for (int i = 0; i < k; ++i) {
            ASSERT_EQ(ids[size_t(t * k + i)], order[size_t(i)]) << "row " << t << ", rank " << i << ", k " << k;
            ASSERT_EQ(values[size_t(t * k + i)], row[order[size_t(i)]]);
        }
    }
}

TEST(TopK, IsTheHeadOfAStableSort) {
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0.0f, 2.0f);
    std::vector<float> x(3 * 5000);
    for (float& v : x) v = dist(rng);
    for (const int k : {1, 7, 40, 5000}) expect_first_k_of_stable_sort(x, 3, k);
}

TEST(TopK, TiesKeepIndexOrderAndArgmaxIsTheFirstLargest) {
    std::vector<float> x = {1, 3, 3, -std::numeric_limits<float>::infinity(), 3, 0, -0.0f, 2};
    expect_first_k_of_stable_sort(x, 1, 8);
    int32_t id = -1;
    float value = 0;
    top_k(x.data(), 1, 8, 1, &id, &value);
    EXPECT_EQ(id, 1);
    EXPECT_EQ(value, 3.0f);
    // Four rows of two: each its own argmax.
    const std::vector<float> rows = {0, 1, 5, 5, -1, -2, 7, 8};
    std::vector<int32_t> ids(4);
    std::vector<float> values(4);
    top_k(rows.data(), 4, 2, 1, ids.data(), values.data());
    EXPECT_EQ(ids, (std::vector<int32_t>{1, 0, 0, 1}));
}

}  // namespace
}  // namespace slm::kernels
