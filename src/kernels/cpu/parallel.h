// Splitting a kernel's range over the pool, or running it inline when there is no pool.
#pragma once

#include <slm/thread_pool.h>

#include <cstdint>

namespace slm::kernels {

// Calls fn(begin, end) over chunks of [0, n) of at least `grain` items, one per pool thread.
template <typename Fn>
void parallel_rows(ThreadPool* pool, int64_t n, Fn&& fn, int64_t grain = 1) {
    if (pool == nullptr) fn(int64_t(0), n);
    else pool->parallel_for(n, fn, grain);
}

}  // namespace slm::kernels
