// Causal attention of a few query tokens (decode) over an f16 or f32 KV cache, split over the keys
// (flash-decoding): each block takes one (token, head) and one stretch of its visible keys, keeps
// a running max, sum and weighted value sum (online softmax) per warp, and writes them as a
// partial; a second kernel merges the partials of every stretch. Splitting the keys puts all the
// GPU's multiprocessors on a single token's attention, where one block per head would use 32.
// How a query's keys split depends only on how many it sees (its position, read on the device),
// never on the launch's grid: a launch sized for the whole cache (a captured decode step, replayed
// at every position) computes what one sized for the keys written so far does, bit for bit.
#include "kernels/cuda/launch.h"

#include <cuda_fp16.h>

namespace slm::cuda::launch {
namespace {

constexpr int kWarps = 4;
constexpr int kPerLane = kMaxHeadDim / 32;  // head dimensions each lane holds
constexpr int64_t kKeysPerSplit = 128;
constexpr int kMaxSplits = 32;

__device__ __forceinline__ float cache_value(const void* cache, bool f16, int64_t i) {
    return f16 ? __half2float(static_cast<const __half*>(cache)[i]) : static_cast<const float*>(cache)[i];
}

__host__ __device__ __forceinline__ int splits_for(int64_t keys) {
    return int(min(int64_t(kMaxSplits), max(int64_t(1), (keys + kKeysPerSplit - 1) / kKeysPerSplit)));
}

// Visible keys of query t: [first, last], empty when first > last.
__device__ __forceinline__ void visible_keys(int32_t pos, int64_t S, int window, int64_t& first, int64_t& last) {
    last = min(int64_t(pos), S - 1);
    first = window > 0 ? max(int64_t(0), int64_t(pos) - window + 1) : 0;
}

// How many of the launch's `splits` stretches the query at `pos` uses.
__device__ __forceinline__ int query_splits(int32_t pos, int64_t S, int window, int splits, int64_t& first,
                                            int64_t& last) {
    visible_keys(pos, S, window, first, last);
    return min(splits, splits_for(max(int64_t(0), last - first + 1)));
}

// Partial of one split: [max score, sum of exp(score - max), Dh weighted value sums].
template <bool F16>
__global__ void __launch_bounds__(kWarps * 32)
    attention_split_kernel(const float* __restrict__ q, int64_t H, int64_t Hkv, int Dh, const void* __restrict__ k_cache,
                           const void* __restrict__ v_cache, int64_t S, const int32_t* __restrict__ q_pos, int window,
                           float scale, float softcap, int splits, float* __restrict__ partials) {
    const int split = blockIdx.x;
    const int64_t h = blockIdx.y, t = blockIdx.z;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int64_t first, last;
    const int used = query_splits(q_pos[t], S, window, splits, first, last);
    if (split >= used) return;  // the merge reads only the first `used` partials
    const int64_t visible = max(int64_t(0), last - first + 1);
    const int64_t chunk = (visible + used - 1) / used;
    const int64_t begin = first + split * chunk, end = min(begin + chunk, last + 1);
    const int64_t kvh = h / (H / Hkv);

    float qr[kPerLane], acc[kPerLane];
    const float* qh = q + (t * H + h) * Dh;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
        const int d = lane + 32 * i;
        qr[i] = d < Dh ? qh[d] : 0.0f;
        acc[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int64_t j = begin + warp; j < end; j += kWarps) {
        const int64_t row = (j * Hkv + kvh) * Dh;
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < kPerLane; ++i) {
            const int d = lane + 32 * i;
            if (d < Dh) dot += qr[i] * cache_value(k_cache, F16, row + d);
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
        float score = dot * scale;
        if (softcap > 0.0f) score = softcap * tanhf(score / softcap);
        const float m_new = fmaxf(m, score);
        const float correction = expf(m - m_new), p = expf(score - m_new);
        l = l * correction + p;
#pragma unroll
        for (int i = 0; i < kPerLane; ++i) {
            const int d = lane + 32 * i;
            if (d < Dh) acc[i] = acc[i] * correction + p * cache_value(v_cache, F16, row + d);
        }
        m = m_new;
    }

    // Merge the warps' running sums.
    __shared__ float warp_m[kWarps], warp_l[kWarps], warp_acc[kWarps][kMaxHeadDim];
    if (lane == 0) warp_m[warp] = m, warp_l[warp] = l;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i)
        if (lane + 32 * i < Dh) warp_acc[warp][lane + 32 * i] = acc[i];
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, warp_m[w]);
    float* out = partials + ((t * H + h) * splits + split) * (Dh + 2);
    for (int d = threadIdx.x; d < Dh; d += kWarps * 32) {
        float sum = 0.0f;
        if (M != -INFINITY)
            for (int w = 0; w < kWarps; ++w) sum += expf(warp_m[w] - M) * warp_acc[w][d];
        out[2 + d] = sum;
    }
    if (threadIdx.x == 0) {
        float L = 0.0f;
        if (M != -INFINITY)
            for (int w = 0; w < kWarps; ++w) L += expf(warp_m[w] - M) * warp_l[w];
        out[0] = M;
        out[1] = L;
    }
}

// out[t, h, :] from the partials of every split; zeros when no key was visible (the reference's
// rule).
__global__ void attention_merge_kernel(const float* __restrict__ partials, int64_t H, int Dh, int64_t S,
                                       const int32_t* __restrict__ q_pos, int window, int splits,
                                       float* __restrict__ out) {
    const int64_t h = blockIdx.x, t = blockIdx.y;
    const float* p = partials + (t * H + h) * splits * (Dh + 2);
    int64_t first, last;
    const int used = query_splits(q_pos[t], S, window, splits, first, last);
    float M = -INFINITY;
    for (int s = 0; s < used; ++s) M = fmaxf(M, p[s * (Dh + 2)]);
    float L = 0.0f;
    if (M != -INFINITY)
        for (int s = 0; s < used; ++s) L += expf(p[s * (Dh + 2)] - M) * p[s * (Dh + 2) + 1];
    float* o = out + (t * H + h) * Dh;
    for (int d = threadIdx.x; d < Dh; d += blockDim.x) {
        float sum = 0.0f;
        if (M != -INFINITY)
            for (int s = 0; s < used; ++s) sum += expf(p[s * (Dh + 2)] - M) * p[s * (Dh + 2) + 2 + d];
        o[d] = M == -INFINITY ? 0.0f : sum / L;
    }
}

}  // namespace

int attention_splits(int64_t S) { return splits_for(S); }

void attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
               const void* v_cache, bool f16_cache, int64_t S, const int32_t* q_pos, int window, float scale,
               float softcap, float* out, float* partials, cudaStream_t stream) {
    if (T * H == 0) return;
    const int splits = attention_splits(S);
    const dim3 grid{unsigned(splits), unsigned(H), unsigned(T)};
    if (f16_cache)
        attention_split_kernel<true><<<grid, kWarps * 32, 0, stream>>>(q, H, Hkv, int(Dh), k_cache, v_cache, S, q_pos,
                                                                       window, scale, softcap, splits, partials);
    else
        attention_split_kernel<false><<<grid, kWarps * 32, 0, stream>>>(q, H, Hkv, int(Dh), k_cache, v_cache, S, q_pos,
                                                                        window, scale, softcap, splits, partials);
    attention_merge_kernel<<<dim3{unsigned(H), unsigned(T)}, 128, 0, stream>>>(partials, H, int(Dh), S, q_pos, window,
                                                                               splits, out);
}

}  // namespace slm::cuda::launch
