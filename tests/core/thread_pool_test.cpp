#include <slm/thread_pool.h>

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <vector>

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
    slm::ThreadPool pool(4);
    for (int64_t n : {0, 1, 3, 4, 5, 1000, 12345}) {
        std::vector<int> hits(size_t(n), 0);
        pool.parallel_for(n, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
        });
        for (int h : hits) ASSERT_EQ(h, 1);
    }
}

TEST(ThreadPool, RunsManyBackToBackDispatches) {
    slm::ThreadPool pool(3);
    std::atomic<int64_t> total{0};
    for (int round = 0; round < 300; ++round)
        pool.run_on_all([&](int ith, int nth) { total += ith + nth * 0; });
    EXPECT_EQ(total.load(), 300 * (0 + 1 + 2));
}

TEST(ThreadPool, SingleThreadRunsInline) {
    slm::ThreadPool pool(1);
    int64_t sum = 0;
    pool.parallel_for(10, [&](int64_t b, int64_t e) { for (auto i = b; i < e; ++i) sum += i; });
    EXPECT_EQ(sum, 45);
}
