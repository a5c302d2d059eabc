// top_k on the GPU: the k largest values of each row, largest first, ties to the lower index
// (kernels::top_k), so that a sampler's candidates cross to the host (k ids and logits a row)
// instead of the whole vocabulary.
// A value and its index make one 64-bit key whose integer order is the wanted one: the value's
// bits made monotone in the high half, the index inverted in the low half. A warp takes a chunk
// of kTopKChunk keys and pulls out its k largest one warp-wide max at a time (each lane keeps the
// best of its own 32 keys, rescanned only when it was the one taken); the chunks' winners are
// chunked again until one chunk a row is left, whose winners are the answer, in order.
#include "kernels/cuda/dependent_launch.cuh"
#include "kernels/cuda/launch.h"

#include <cstring>

namespace slm::cuda::launch {
namespace {

constexpr int kWarps = 4;
constexpr int kPerLane = kTopKChunk / 32;
using Key = unsigned long long;

__device__ Key key_of(float v, int64_t index) {
    unsigned bits = __float_as_uint(v == 0.0f ? 0.0f : v);  // -0 ties with +0, as in a float compare
    bits = (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
    return Key(bits) << 32 | Key(0xFFFFFFFFu - unsigned(index));
}

// One pass: row blockIdx.y's `n` values (or keys of an earlier pass) in chunks of kTopKChunk, a
// warp a chunk, each chunk's k largest keys into out[row, chunk, 0..k) (0, below every real key,
// where a chunk has fewer than k).
template <bool FromValues>
__global__ void __launch_bounds__(kWarps * 32)
    top_k_pass_kernel(const float* values, const Key* keys_in, int64_t n, int k, Key* out, int64_t chunks) {
    follow_previous_kernel();
    __shared__ Key keys[kWarps][kTopKChunk];
    const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
    const int64_t chunk = int64_t(blockIdx.x) * kWarps + warp, row = blockIdx.y;
    if (chunk >= chunks) return;
    // A lane's keys are entries lane, lane + 32, ... of the chunk: no other lane touches them.
    Key* mine = keys[warp];
    Key best = 0;
    int best_at = 0;
    for (int i = 0; i < kPerLane; ++i) {
        const int at = i * 32 + lane;
        const int64_t j = chunk * kTopKChunk + at;
        Key key = 0;
        if (j < n) key = FromValues ? key_of(values[row * n + j], j) : keys_in[row * n + j];
        mine[at] = key;
        if (key > best) best = key, best_at = at;
    }
    Key* dst = out + (row * chunks + chunk) * k;
    for (int r = 0; r < k; ++r) {
        Key m = best;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const Key other = __shfl_xor_sync(0xffffffffu, m, o);
            m = other > m ? other : m;
        }
        if (lane == 0) dst[r] = m;
        // Keys are distinct (their indices are), so one lane gave up m; it finds its next best.
        if (m != 0 && best == m) {
            mine[best_at] = 0;
            best = 0;
            for (int i = 0; i < kPerLane; ++i) {
                const int at = i * 32 + lane;
                if (mine[at] > best) best = mine[at], best_at = at;
            }
        }
    }
}

}  // namespace

size_t top_k_scratch_keys(int64_t T, int64_t n, int k) {
    return 2 * size_t(T) * size_t((n + kTopKChunk - 1) / kTopKChunk) * size_t(k);
}

void top_k(const float* x, int64_t T, int64_t n, int k, unsigned long long* out, unsigned long long* scratch,
           cudaStream_t stream) {
    if (T <= 0) return;
    const size_t half = top_k_scratch_keys(T, n, k) / 2;
    // k <= kMaxTopK < kTopKChunk / 2: each pass leaves at most half its keys, so passes end.
    const Key* in = nullptr;
    for (int pass = 0;; ++pass) {
        const int64_t chunks = (n + kTopKChunk - 1) / kTopKChunk;
        Key* dst = chunks == 1 ? out : scratch + (pass % 2) * half;
        const dim3 grid(unsigned((chunks + kWarps - 1) / kWarps), unsigned(T));
        if (in == nullptr) launch_dependent(&top_k_pass_kernel<true>, grid, kWarps * 32, stream, x, in, n, k, dst, chunks);
        else launch_dependent(&top_k_pass_kernel<false>, grid, kWarps * 32, stream, x, in, n, k, dst, chunks);
        if (chunks == 1) return;
        in = dst;
        n = chunks * k;
    }
}

void decode_top_k_keys(const unsigned long long* keys, int64_t count, int32_t* ids, float* values) {
    for (int64_t i = 0; i < count; ++i) {
        const unsigned high = unsigned(keys[i] >> 32);
        const unsigned bits = (high & 0x80000000u) ? high & 0x7FFFFFFFu : ~high;
        std::memcpy(&values[i], &bits, sizeof bits);
        ids[i] = int32_t(0xFFFFFFFFu - unsigned(keys[i] & 0xFFFFFFFFu));
    }
}

}  // namespace slm::cuda::launch
