// ThreadPool: workers wait for a new generation number, run the posted thunk with their index,
// and count down `pending_`. Spinning first (a few microseconds) keeps per-op latency low during
// a forward pass; sleeping on the condition variable keeps idle CPU use at zero.
#include <slm/thread_pool.h>

#include <immintrin.h>

namespace slm {
namespace {
constexpr int kSpinIterations = 20000;
inline void cpu_relax() { _mm_pause(); }
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
    if (n_threads <= 0) n_threads = int(std::max(1u, std::thread::hardware_concurrency()));
    n_threads_ = n_threads;
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mutex_);
        stop_.store(true);
        generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
}

void ThreadPool::dispatch(Thunk thunk, void* ctx) {
    if (n_threads_ == 1) {
        thunk(ctx, 0, 1);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        thunk_ = thunk;
        ctx_ = ctx;
        pending_.store(n_threads_ - 1);
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    thunk(ctx, 0, n_threads_);
    while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
}

void ThreadPool::worker(int index) {
    uint64_t seen = 0;
    for (;;) {
        int spins = 0;
        while (generation_.load(std::memory_order_acquire) == seen && spins < kSpinIterations) {
            cpu_relax();
            ++spins;
        }
        if (generation_.load(std::memory_order_acquire) == seen) {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return generation_.load() != seen; });
        }
        seen = generation_.load(std::memory_order_acquire);
        if (stop_.load()) return;
        Thunk thunk;
        void* ctx;
        {
            std::lock_guard lock(mutex_);
            thunk = thunk_;
            ctx = ctx_;
        }
        thunk(ctx, index, n_threads_);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

}  // namespace slm
