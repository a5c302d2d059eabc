// ThreadPool: the job protocol (see the header). The caller posts a job by bumping the job number
// in `state_`, claims chunks itself, then closes the job and waits for the workers that joined
// it. Waits spin for a few tens of microseconds (ops of a forward pass follow each other that
// closely) and then sleep on the state word (futex), so idle or descheduled threads cost nothing.
#include <slm/thread_pool.h>

#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace slm {
namespace {

constexpr uint32_t kActiveMask = 0xffff;
constexpr uint32_t kClosed = 1u << 16;
constexpr uint32_t kJobShift = 17;
constexpr auto kSpinTime = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__)
    _mm_pause();
#endif
}
inline uint32_t job_of(uint32_t state) { return state >> kJobShift; }

// Spins until pred() holds or kSpinTime has passed; true when pred() held.
template <typename Pred>
bool spin_until(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
    for (;;) {
        for (int i = 0; i < 64; ++i) {
            if (pred()) return true;
            cpu_relax();
        }
        if (std::chrono::steady_clock::now() > deadline) return pred();
    }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
    if (n_threads <= 0) n_threads = int(std::max(1u, std::thread::hardware_concurrency()));
    n_threads_ = std::min(n_threads, int(kActiveMask));
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    state_.fetch_add(1u << kJobShift);  // a new job number wakes every worker
    state_.notify_all();
    for (auto& t : threads_) t.join();
}

void ThreadPool::run_claimed_chunks() {
    for (int64_t c; (c = next_chunk_.fetch_add(1, std::memory_order_relaxed)) < chunks_;) fn_(ctx_, c);
}

void ThreadPool::dispatch(ChunkFn fn, void* ctx, int64_t chunks) {
    if (n_threads_ == 1) {
        for (int64_t c = 0; c < chunks; ++c) fn(ctx, c);
        return;
    }
    // No worker is inside a job now (the previous dispatch waited them out), so the job's fields
    // can be written; the release of the new job number publishes them.
    fn_ = fn;
    ctx_ = ctx;
    chunks_ = chunks;
    next_chunk_.store(0, std::memory_order_relaxed);
    const uint32_t job = (job_of(state_.load(std::memory_order_relaxed)) + 1) << kJobShift;
    state_.store(job, std::memory_order_release);
    state_.notify_all();
    run_claimed_chunks();
    // Close the job: workers that have not joined yet will not; wait for those that did.
    uint32_t s = state_.fetch_or(kClosed, std::memory_order_acq_rel) | kClosed;
    while ((s & kActiveMask) != 0) {
        if (!spin_until([&] { return ((s = state_.load(std::memory_order_acquire)) & kActiveMask) == 0; }))
            state_.wait(s, std::memory_order_acquire);
        s = state_.load(std::memory_order_acquire);
    }
}

void ThreadPool::worker() {
    uint32_t seen_job = 0;
    for (;;) {
        uint32_t s = state_.load(std::memory_order_acquire);
        auto new_job = [&] { return job_of(s = state_.load(std::memory_order_acquire)) != seen_job; };
        while (!new_job()) {
            if (!spin_until(new_job)) state_.wait(s, std::memory_order_acquire);
        }
        if (stop_.load()) return;
        seen_job = job_of(s);
        // Join the job unless it is closed (or already replaced by a newer one).
        bool joined = false;
        while (job_of(s) == seen_job && !(s & kClosed)) {
            if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
                joined = true;
                break;
            }
        }
        if (!joined) continue;
        run_claimed_chunks();
        if (((state_.fetch_sub(1, std::memory_order_acq_rel) - 1) & kActiveMask) == 0) state_.notify_all();
    }
}

}  // namespace slm
