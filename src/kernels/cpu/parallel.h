// Splitting a kernel's range over the pool, or running it inline when there is no pool.
#pragma once

#include <slm/thread_pool.h>

#include <algorithm>
#include <cstdint>

namespace slm::kernels {

// Elementwise ops (norms, activations, rotations, row gathers) hand the pool chunks of at least
// this many elements: below that, waking a thread costs more than the work (a batched decode
// step on a small model has a few thousand elements per op).
constexpr int64_t kMinElementsPerChunk = 16384;

// The grain, in rows of `row_elements`, that keeps chunks at kMinElementsPerChunk or more.
inline int64_t min_rows_per_chunk(int64_t row_elements) {
    return std::max<int64_t>(1, kMinElementsPerChunk / std::max<int64_t>(1, row_elements));
}

// Calls fn(begin, end) over chunks of [0, n) of at least `grain` items, one per pool thread.
template <typename Fn>
void parallel_rows(ThreadPool* pool, int64_t n, Fn&& fn, int64_t grain = 1) {
    if (pool == nullptr) fn(int64_t(0), n);
    else pool->parallel_for(n, fn, grain);
}

// Calls fn(begin, end) on consecutive chunks [c * chunk, (c + 1) * chunk) of [0, n), each taken
// by the next free pool thread (ThreadPool::for_each_chunk). Balances the load where a fixed
// share per thread would not: a thread that loses its core to another process, or chunks of
// unequal cost (causal attention). fn must give the same results whatever chunks it is called
// on, so that results do not depend on the thread count.
template <typename Fn>
void parallel_chunks(ThreadPool* pool, int64_t n, int64_t chunk, Fn&& fn) {
    if (n <= 0) return;
    const int64_t chunks = (n + chunk - 1) / chunk;
    if (pool == nullptr || pool->size() == 1 || chunks == 1) {
        fn(int64_t(0), n);
        return;
    }
    pool->for_each_chunk(chunks, [&](int64_t c) { fn(c * chunk, std::min(n, (c + 1) * chunk)); });
}

}  // namespace slm::kernels
