// ThreadPool: the one pool of worker threads all kernels share. Threads are made once; a
// parallel_for wakes them, splits the range, and the caller's thread works too. Workers spin
// briefly before sleeping so that back-to-back kernels (one per layer op) do not pay a wake-up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace slm {

class ThreadPool {
public:
    // n_threads <= 0 means one per hardware thread.
    explicit ThreadPool(int n_threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls fn(thread_index, n_threads) once on every thread, the caller's being index 0,
    // and returns when all calls have returned. Not reentrant.
    template <typename Fn>
    void run_on_all(Fn&& fn) {
        auto thunk = [](void* ctx, int ith, int nth) { (*static_cast<std::remove_reference_t<Fn>*>(ctx))(ith, nth); };
        dispatch(thunk, const_cast<void*>(static_cast<const void*>(&fn)));
    }

    // Calls fn(begin, end) over contiguous chunks of [0, n) of at least `grain` items,
    // one chunk per thread; returns when all are done.
    template <typename Fn>
    void parallel_for(int64_t n, Fn&& fn, int64_t grain = 1) {
        if (n <= 0) return;
        const int64_t max_chunks = grain > 0 ? (n + grain - 1) / grain : n;
        if (n_threads_ == 1 || max_chunks <= 1) {
            fn(int64_t(0), n);
            return;
        }
        run_on_all([&](int ith, int nth) {
            const int64_t chunks = std::min<int64_t>(nth, max_chunks);
            if (ith >= chunks) return;
            const int64_t begin = n * ith / chunks, end = n * (ith + 1) / chunks;
            if (begin < end) fn(begin, end);
        });
    }

private:
    using Thunk = void (*)(void* ctx, int ith, int nth);
    void dispatch(Thunk thunk, void* ctx);
    void worker(int index);

    int n_threads_;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
    Thunk thunk_ = nullptr;
    void* ctx_ = nullptr;
};

}  // namespace slm
