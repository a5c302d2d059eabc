#include <slm/thread_pool.h>

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <stdexcept>
#include <thread>
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

TEST(ThreadPool, ParallelForChunksRespectTheGrain) {
    slm::ThreadPool pool(2);
    std::atomic<int64_t> smallest{1 << 30}, calls{0};
    pool.parallel_for(1000, [&](int64_t b, int64_t e) {
        ++calls;
        int64_t cur = smallest.load();
        while (e - b < cur && !smallest.compare_exchange_weak(cur, e - b)) {}
    }, 300);
    EXPECT_GE(smallest.load(), 250);  // 1000 split into ceil(1000/300) = 4 chunks at most
    EXPECT_LE(calls.load(), 4);
}

// More pool threads than cores, several pools at once: a descheduled worker must not stall the
// job (its chunks are taken by the threads that run), and every index is still covered once.
TEST(ThreadPool, OversubscribedPoolsFinishEveryJob) {
    const int n_threads = int(std::max(2u, std::thread::hardware_concurrency())) * 3;
    std::vector<std::thread> callers;
    std::atomic<int> failures{0};
    for (int p = 0; p < 3; ++p)
        callers.emplace_back([&] {
            slm::ThreadPool pool(n_threads);
            for (int round = 0; round < 200; ++round) {
                std::vector<std::atomic<int>> hits(997);
                pool.parallel_for(997, [&](int64_t b, int64_t e) {
                    for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
                });
                for (auto& h : hits) failures += h.load() != 1;
            }
        });
    for (auto& t : callers) t.join();
    EXPECT_EQ(failures.load(), 0);
}

// A chunk that throws does not take its worker down: the other chunks still run, and the caller
// gets the exception once the job is over (as a model load meeting out-of-memory does).
TEST(ThreadPool, AChunkThatThrowsIsRethrownToTheCaller) {
    slm::ThreadPool pool(3);
    std::atomic<int> ran{0};
    EXPECT_THROW(pool.for_each_chunk(20, [&](int64_t c) {
        ++ran;
        if (c == 7) throw std::runtime_error("chunk 7");
    }), std::runtime_error);
    EXPECT_EQ(ran.load(), 20);
    // The pool still works afterwards.
    std::atomic<int64_t> sum{0};
    pool.for_each_chunk(10, [&](int64_t c) { sum += c; });
    EXPECT_EQ(sum.load(), 45);
}
