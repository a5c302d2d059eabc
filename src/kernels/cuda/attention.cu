// Causal attention of a few query tokens (decode) over an f16 or f32 KV cache, split over the keys
// (flash-decoding): each block takes one (token, head) and one stretch of its visible keys, keeps
// a running max, sum and weighted value sum (online softmax) per warp, and writes them as a
// partial; a second kernel merges the partials of every stretch. Splitting the keys puts all the
// GPU's multiprocessors on a single token's attention, where one block per head would use 32.
// How a query's keys split depends only on how many it sees (its position, read on the device),
// never on the launch's grid: a launch sized for the whole cache (a captured decode step, replayed
// at every position) computes what one sized for the keys written so far does, bit for bit.
#include "kernels/cuda/dependent_launch.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/q8_activations.cuh"
#include "kernels/cuda/visible_keys.cuh"

#include <cuda_fp16.h>

#include <algorithm>

namespace slm::cuda::launch {
namespace {

constexpr int kWarps = 4;
// A split's keys: each of its four warps walks its share one key after another (load, dot,
// shuffles, exponentials), so even short contexts want several splits. At 128 keys a split a 7B
// q4_0 decode over positions 0-127 ran at 407 tokens/s, at 32 at 480, at 16 at 492 (H200, each
// step alternated in one run; 16 also gained 2-3% on 7B q4_k_m and q8_0); a shortcut for a
// query's only split writing its output itself measured no better.
constexpr int64_t kKeysPerSplit = 16;
constexpr int kMaxSplits = 32;

__device__ __forceinline__ float cache_value(const void* cache, bool f16, int64_t i) {
    return f16 ? __half2float(static_cast<const __half*>(cache)[i]) : static_cast<const float*>(cache)[i];
}

__host__ __device__ __forceinline__ int splits_for(int64_t keys) {
    return int(min(int64_t(kMaxSplits), max(int64_t(1), (keys + kKeysPerSplit - 1) / kKeysPerSplit)));
}

// How many of the launch's `splits` stretches the query at `pos` uses.
__device__ __forceinline__ int query_splits(int32_t pos, int64_t S, int window, int splits, int64_t& first,
                                            int64_t& last) {
    visible_keys(pos, S, window, first, last);
    return min(splits, splits_for(max(int64_t(0), last - first + 1)));
}

// Token t's sequence: its cache and the bound on its keys. Every index into the table is a
// constant after unrolling (a computed index would copy the table to local memory; matvec.cu).
struct Sequence {
    const void *keys, *values;
    int64_t S;
};
__device__ __forceinline__ Sequence sequence_of(const AttentionSequences& seqs, int64_t t) {
    Sequence seq{seqs.keys[0], seqs.values[0], seqs.S[0]};
#pragma unroll
    for (int i = 1; i < kMaxAttentionSequences; ++i)
        if (i < seqs.count && t >= seqs.end[i - 1]) seq = {seqs.keys[i], seqs.values[i], seqs.S[i]};
    return seq;
}

// out[t, h, :] from the first `used` partials of (t, h); zeros when no key was visible (the
// reference's rule). With q8 (Dh a multiple of 32, so each warp holds one whole group) also as
// 8-bit activations for the output projection's matvec. The partials were written by other blocks
// of this launch: read past L1 (__ldcg). Every load of a step is issued before any is used (the
// splits' maxima and sums by one thread each, then each dimension's sums of every split): read in
// turn, a loop's loads were one L2 round trip each, most of a decode attention's time.
__device__ void merge_partials(const float* p, int Dh, int used, float* o, int64_t q8_group0, void* q8, int64_t n) {
    __shared__ float weight[kMaxSplits];  // each split's exp(max - M) / L
    __shared__ float total;               // L, or 0 when no key was visible
    const int s = threadIdx.x;
    const float m_s = s < used ? __ldcg(p + s * (Dh + 2)) : -INFINITY;
    const float l_s = s < used ? __ldcg(p + s * (Dh + 2) + 1) : 0.0f;
    if (s < kMaxSplits) weight[s] = m_s;
    __syncthreads();
    float M = -INFINITY;
    for (int i = 0; i < used; ++i) M = fmaxf(M, weight[i]);
    __syncthreads();
    if (s < kMaxSplits) weight[s] = M == -INFINITY ? 0.0f : expf(m_s - M) * l_s;
    __syncthreads();
    if (s == 0) {
        float L = 0.0f;
        for (int i = 0; i < used; ++i) L += weight[i];
        total = L;
    }
    __syncthreads();
    if (s < used && total > 0.0f) weight[s] = expf(m_s - M) / total;
    __syncthreads();
    for (int d = threadIdx.x; d < Dh; d += blockDim.x) {
        float v[kMaxSplits];
#pragma unroll
        for (int i = 0; i < kMaxSplits; ++i) v[i] = i < used ? __ldcg(p + i * (Dh + 2) + 2 + d) : 0.0f;
        float sum = 0.0f;
#pragma unroll
        for (int i = 0; i < kMaxSplits; ++i)
            if (i < used) sum += weight[i] * v[i];
        const float out = total > 0.0f ? sum : 0.0f;
        o[d] = out;
        if (q8 != nullptr) quantize_group(out, q8_group0 + d / 32, q8_codes(q8), q8_scales(q8, n));
    }
}

// Partial of one split: [max score, sum of exp(score - max), Dh weighted value sums].
// PerLane: head dimensions a lane holds (lane, lane + 32, ...), 4 up to 128-dimension heads, 8 up
// to 256 (sized to the head: registers held for absent dimensions cost the kernel its speed).
template <bool F16, int PerLane>
__global__ void __launch_bounds__(kWarps * 32)
    attention_split_kernel(const float* __restrict__ q, int64_t H, int64_t Hkv, int Dh, AttentionSequences seqs,
                           const int32_t* __restrict__ q_pos, int window, float scale, float softcap, int splits,
                           float* __restrict__ partials, unsigned* __restrict__ done, float* __restrict__ y,
                           void* q8) {
    follow_previous_kernel();
    const int split = blockIdx.x;
    const int64_t h = blockIdx.y, t = blockIdx.z;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const Sequence seq = sequence_of(seqs, t);
    const void* __restrict__ k_cache = seq.keys;
    const void* __restrict__ v_cache = seq.values;
    const int64_t S = seq.S;
    int64_t first, last;
    const int used = query_splits(q_pos[t], S, window, splits, first, last);
    if (split >= used) return;  // the merge reads only the first `used` partials
    const int64_t visible = max(int64_t(0), last - first + 1);
    const int64_t chunk = (visible + used - 1) / used;
    const int64_t begin = first + split * chunk, end = min(begin + chunk, last + 1);
    const int64_t kvh = h / (H / Hkv);

    float qr[PerLane], acc[PerLane];
    const float* qh = q + (t * H + h) * Dh;
#pragma unroll
    for (int i = 0; i < PerLane; ++i) {
        const int d = lane + 32 * i;
        qr[i] = d < Dh ? qh[d] : 0.0f;
        acc[i] = 0.0f;
    }
    // A key's value row is loaded with its key row, before the score needs the key: one wait for
    // memory a key, not two.
    float m = -INFINITY, l = 0.0f;
    for (int64_t j = begin + warp; j < end; j += kWarps) {
        const int64_t row = (j * Hkv + kvh) * Dh;
        float kr[PerLane], vr[PerLane];
#pragma unroll
        for (int i = 0; i < PerLane; ++i) {
            const int d = lane + 32 * i;
            kr[i] = d < Dh ? cache_value(k_cache, F16, row + d) : 0.0f;
            vr[i] = d < Dh ? cache_value(v_cache, F16, row + d) : 0.0f;
        }
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < PerLane; ++i) dot += qr[i] * kr[i];
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
        float score = dot * scale;
        if (softcap > 0.0f) score = softcap * tanhf(score / softcap);
        const float m_new = fmaxf(m, score);
        const float correction = expf(m - m_new), p = expf(score - m_new);
        l = l * correction + p;
#pragma unroll
        for (int i = 0; i < PerLane; ++i) acc[i] = acc[i] * correction + p * vr[i];
        m = m_new;
    }

    // Merge the warps' running sums.
    __shared__ float warp_m[kWarps], warp_l[kWarps], warp_acc[kWarps][kMaxHeadDim];
    if (lane == 0) warp_m[warp] = m, warp_l[warp] = l;
#pragma unroll
    for (int i = 0; i < PerLane; ++i)
        if (lane + 32 * i < Dh) warp_acc[warp][lane + 32 * i] = acc[i];
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, warp_m[w]);
    float* part = partials + ((t * H + h) * splits + split) * (Dh + 2);
    for (int d = threadIdx.x; d < Dh; d += kWarps * 32) {
        float sum = 0.0f;
        if (M != -INFINITY)
            for (int w = 0; w < kWarps; ++w) sum += expf(warp_m[w] - M) * warp_acc[w][d];
        part[2 + d] = sum;
    }
    if (threadIdx.x == 0) {
        float L = 0.0f;
        if (M != -INFINITY)
            for (int w = 0; w < kWarps; ++w) L += expf(warp_m[w] - M) * warp_l[w];
        part[0] = M;
        part[1] = L;
    }

    // The last of the query's splits to finish merges them all (no second launch) and sets the
    // count back to zero for the next launch.
    __shared__ bool last_split;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        last_split = atomicAdd(done + t * H + h, 1u) == unsigned(used - 1);
        if (last_split) done[t * H + h] = 0;
    }
    __syncthreads();
    if (!last_split) return;
    __threadfence();
    const int64_t T = gridDim.z;
    merge_partials(partials + (t * H + h) * splits * (Dh + 2), Dh, used, y + (t * H + h) * Dh, (t * H + h) * Dh / 32,
                   q8, T * H * Dh);
}

}  // namespace

int attention_splits(int64_t S) { return splits_for(S); }

void attention(const float* q, const AttentionSequences& seqs, int64_t H, int64_t Hkv, int64_t Dh, bool f16_cache,
               const int32_t* q_pos, int window, float scale, float softcap, float* out, void* out_q8,
               float* partials, unsigned* done, cudaStream_t stream) {
    const int64_t T = seqs.end[seqs.count - 1];
    if (T * H == 0) return;
    int64_t S = 1;
    for (int i = 0; i < seqs.count; ++i) S = std::max(S, seqs.S[i]);
    const int splits = attention_splits(S);
    const dim3 grid{unsigned(splits), unsigned(H), unsigned(T)};
    auto go = [&](auto kernel) {
        launch_dependent(kernel, grid, kWarps * 32, stream, q, H, Hkv, int(Dh), seqs, q_pos, window, scale, softcap,
                         splits, partials, done, out, out_q8);
    };
    if (Dh <= 128) f16_cache ? go(&attention_split_kernel<true, 4>) : go(&attention_split_kernel<false, 4>);
    else f16_cache ? go(&attention_split_kernel<true, 8>) : go(&attention_split_kernel<false, 8>);
}

}  // namespace slm::cuda::launch
