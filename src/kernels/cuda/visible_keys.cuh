// Which cached keys a query sees: the rule of kernels::ref::attention (causal by position, within a
// sliding window when there is one, below the S keys written), shared by the decode and prompt
// attention kernels.
#pragma once

#include <cstdint>

namespace slm::cuda::launch {

// The keys of a query at `pos`: [first, last], empty when first > last.
__device__ __forceinline__ void visible_keys(int32_t pos, int64_t S, int window, int64_t& first, int64_t& last) {
    last = min(int64_t(pos), S - 1);
    first = window > 0 ? max(int64_t(0), int64_t(pos) - window + 1) : 0;
}

}  // namespace slm::cuda::launch
