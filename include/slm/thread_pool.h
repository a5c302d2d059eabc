// ThreadPool: the one pool of worker threads all kernels share. Threads are made once. A job is a
// range cut into chunks that the caller's thread and whichever workers are awake claim one at a
// time, so a worker the OS has descheduled (a busy machine, more threads than cores) never holds
// the others up: its chunks are taken by the threads that run. Workers spin briefly before
// sleeping so that back-to-back kernels (one per layer op) do not pay a wake-up, and never spin
// long enough to starve other work on an oversubscribed machine.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
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

    // Calls fn(i, n) once for every i in [0, n) with n = size(), in parallel where threads are
    // free (the caller's thread takes part), and returns when all calls have returned.
    template <typename Fn>
    void run_on_all(Fn&& fn) {
        const int n = n_threads_;
        for_each_chunk(n, [&](int64_t i) { fn(int(i), n); });
    }

    // Calls fn(begin, end) over contiguous chunks covering [0, n), each of at least `grain` items
    // (but the last), a few chunks per thread so that the work balances; returns when all are done.
    template <typename Fn>
    void parallel_for(int64_t n, Fn&& fn, int64_t grain = 1) {
        if (n <= 0) return;
        const int64_t max_chunks = grain > 0 ? (n + grain - 1) / grain : n;
        const int64_t chunks = std::min<int64_t>(max_chunks, int64_t(n_threads_) * kChunksPerThread);
        if (n_threads_ == 1 || chunks <= 1) {
            fn(int64_t(0), n);
            return;
        }
        for_each_chunk(chunks, [&](int64_t c) {
            const int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
            if (begin < end) fn(begin, end);
        });
    }

    // Calls fn(c) once for every chunk index c in [0, chunks), each claimed by the next thread
    // that is free, and returns when all calls have returned. For callers whose chunks have a
    // natural size (packed weight panels) or unequal costs (causal attention). A call that throws
    // (out of memory while a model loads) does not end its worker: the other chunks still run, and
    // the first exception is rethrown here once all have returned.
    template <typename Fn>
    void for_each_chunk(int64_t chunks, Fn&& fn) {
        struct Job {
            std::remove_reference_t<Fn>* fn;
            std::atomic<bool> failed{false};
            std::exception_ptr failure{};
        } job{&fn, {false}, {}};
        auto thunk = [](void* ctx, int64_t c) {
            auto* j = static_cast<Job*>(ctx);
            try {
                (*j->fn)(c);
            } catch (...) {
                if (!j->failed.exchange(true)) j->failure = std::current_exception();
            }
        };
        dispatch(thunk, &job, chunks);
        if (job.failure) std::rethrow_exception(job.failure);
    }

private:
    static constexpr int kChunksPerThread = 4;
    using ChunkFn = void (*)(void* ctx, int64_t chunk);
    void dispatch(ChunkFn fn, void* ctx, int64_t chunks);
    void run_claimed_chunks();
    void worker();

    int n_threads_;
    std::vector<std::thread> threads_;
    // The posted job. `state_` packs a job number (high 15 bits), a closed flag (bit 16) and the
    // number of workers inside the job (low 16 bits): a worker joins with one compare-and-swap
    // that fails once the caller has closed the job, so the caller waits only for workers that
    // are really working on it.
    std::atomic<uint32_t> state_{0};
    std::atomic<int64_t> next_chunk_{0};
    int64_t chunks_ = 0;
    ChunkFn fn_ = nullptr;
    void* ctx_ = nullptr;
    std::atomic<bool> stop_{false};
};

}  // namespace slm
