// The small ops of a transformer step on the GPU: RMS and layer normalisation, rotary embedding
// (the angle table once per step, then q and k rotated by it, wholly or in their first rot_dim
// dimensions), the activations (SiLU x up, GELU x up in both forms, plain GELU), soft-capping,
// scaling, bias and residual adds, row softmax, the f32 -> f16 conversion, and the KV cache's store
// of each token's keys and values at the slot its position names.
// Each matches its scalar reference in slm::kernels::ref (include/slm/kernels.h).
#include "kernels/cuda/dependent_launch.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/q8_activations.cuh"

#include <cuda_fp16.h>

#include <type_traits>

namespace slm::cuda::launch {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

// rms_norm's threads a row: a decode step normalises one row of thousands of values, and with
// 256 threads its loops and the fused quantization ran long on one multiprocessor.
constexpr int kNormThreads = 1024;

// The sum (or max) of v over a block of Threads threads; every thread gets the result.
template <bool Max, int Threads = kThreads>
__device__ float block_reduce(float v) {
    __shared__ float partial[Threads / 32];
    __shared__ float result;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float other = __shfl_xor_sync(0xffffffffu, v, o);
        v = Max ? fmaxf(v, other) : v + other;
    }
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
    __syncthreads();
    // The warps' partials by the first warp's shuffles (one thread summing 32 of them in turn was
    // half a microsecond of a decode step's norm).
    if (threadIdx.x < 32) {
        const float identity = Max ? -INFINITY : 0.0f;
        float r = threadIdx.x < Threads / 32 ? partial[threadIdx.x] : identity;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float other = __shfl_xor_sync(0xffffffffu, r, o);
            r = Max ? fmaxf(r, other) : r + other;
        }
        if (threadIdx.x == 0) result = r;
    }
    __syncthreads();
    return result;
}

// One block per row, each thread holding its PerThread values (and their weights, loaded before
// the reduction so that their latency hides behind it) in registers: a decode step's norm is one
// row, where every round trip to memory is time the next launch waits. With a residual, x +=
// residual first (written back: the residual add of a block's output fused into the next norm);
// with q8 (D a multiple of 32), the output is also written as 8-bit activations for the matvec
// that reads it next: a warp's 32 lanes hold 32 consecutive values.
template <int PerThread>
__global__ void __launch_bounds__(kNormThreads)
    rms_norm_kernel(float* x, const float* residual, const float* __restrict__ w, int64_t D, float eps, float* out,
                    void* q8, int64_t n) {
    // The weights first: they do not depend on the kernel before, so under a dependent launch
    // they load while it finishes.
    float v[PerThread], wv[PerThread];
#pragma unroll
    for (int k = 0; k < PerThread; ++k) {
        const int64_t i = threadIdx.x + int64_t(k) * kNormThreads;
        wv[k] = i < D ? w[i] : 0.0f;
    }
    follow_previous_kernel();
    float* xt = x + int64_t(blockIdx.x) * D;
    float* ot = out + int64_t(blockIdx.x) * D;
    float sum_sq = 0.0f;
#pragma unroll
    for (int k = 0; k < PerThread; ++k) {
        const int64_t i = threadIdx.x + int64_t(k) * kNormThreads;
        v[k] = 0.0f;
        if (i < D) {
            v[k] = xt[i];
            if (residual != nullptr) {
                v[k] += residual[int64_t(blockIdx.x) * D + i];
                xt[i] = v[k];
            }
        }
        sum_sq += v[k] * v[k];
    }
    const float inv_rms = rsqrtf(block_reduce<false, kNormThreads>(sum_sq) / float(D) + eps);
#pragma unroll
    for (int k = 0; k < PerThread; ++k) {
        const int64_t i = threadIdx.x + int64_t(k) * kNormThreads;
        if (i >= D) break;
        const float y = v[k] * inv_rms * wv[k];
        ot[i] = y;
        if (q8 != nullptr) quantize_group(y, (int64_t(blockIdx.x) * D + i) / 32, q8_codes(q8), q8_scales(q8, n));
    }
}

// rms_norm_kernel with a residual and q8, its 1/rms left to the matvec that reads q8 next: a block
// per kNormScaleChunk values (blockIdx.x) of a row (blockIdx.y), a warp per group of 32 (a decode
// step's norm spread over every multiprocessor instead of waiting on one block's reductions).
// x += residual; out = x * w, quantized; the chunk's sum of squares into sums[row, chunk].
__global__ void __launch_bounds__(kNormScaleChunk)
    rms_norm_deferred_kernel(float* x, const float* __restrict__ residual, const float* __restrict__ w, int64_t D,
                             float* out, int8_t* __restrict__ codes, float2* __restrict__ ds,
                             float* __restrict__ sums) {
    __shared__ float warp_sums[kNormScaleChunk / 32];
    const int64_t d = int64_t(blockIdx.x) * kNormScaleChunk + threadIdx.x;
    const bool active = d < D;  // whole warps: D is a multiple of 32
    const float wv = active ? w[d] : 0.0f;  // before the wait: not the kernel before's
    follow_previous_kernel();
    float sum_sq = 0.0f;
    if (active) {
        const int64_t i = int64_t(blockIdx.y) * D + d;
        const float v = x[i] + residual[i];
        x[i] = v;
        const float y = v * wv;
        out[i] = y;
        quantize_group(y, i / 32, codes, ds);
        sum_sq = warp_sum(v * v);
    }
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum_sq;
    __syncthreads();
    if (threadIdx.x == 0) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < kNormScaleChunk / 32; ++k) s += warp_sums[k];
        sums[int64_t(blockIdx.y) * gridDim.x + blockIdx.x] = s;
    }
}

// One block per row: the row's chunk sums, then every value times the row's 1/rms.
__global__ void apply_norm_scale_kernel(float* out, const float* __restrict__ sums, int64_t D, float eps) {
    follow_previous_kernel();
    const int64_t chunks = (D + kNormScaleChunk - 1) / kNormScaleChunk;
    float s = 0.0f;
    for (int64_t c = threadIdx.x; c < chunks; c += kThreads) s += sums[int64_t(blockIdx.x) * chunks + c];
    const float inv_rms = rsqrtf(block_reduce<false>(s) / float(D) + eps);
    for (int64_t i = threadIdx.x; i < D; i += kThreads) out[int64_t(blockIdx.x) * D + i] *= inv_rms;
}

// Angles in double, as the reference computes them: positions reach 10^5 and more, where a float
// product loses the low bits of the angle.
__global__ void rope_angles_kernel(const int32_t* __restrict__ positions, int64_t T, int64_t half,
                                   const float* __restrict__ inv_freq, float mscale, float* __restrict__ cos_sin) {
    follow_previous_kernel();
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= T * half) return;
    const int64_t t = i / half, p = i % half;
    double s, c;
    sincos(double(positions[t]) * double(inv_freq[p]), &s, &c);
    cos_sin[t * 2 * half + p] = float(c) * mscale;
    cos_sin[t * 2 * half + half + p] = float(s) * mscale;
}

// One block per row, the mean first and then the variance around it (as the reference: no
// cancellation from E[x^2] - E[x]^2); w or b null mean ones or zeros.
__global__ void layer_norm_kernel(const float* x, const float* __restrict__ w, const float* __restrict__ b, int64_t D,
                                  float eps, float* out) {
    const float* xt = x + int64_t(blockIdx.x) * D;
    float* ot = out + int64_t(blockIdx.x) * D;
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < D; i += kThreads) sum += xt[i];
    const float mean = block_reduce<false>(sum) / float(D);
    float sum_sq = 0.0f;
    for (int64_t i = threadIdx.x; i < D; i += kThreads) sum_sq += (xt[i] - mean) * (xt[i] - mean);
    const float inv_std = rsqrtf(block_reduce<false>(sum_sq) / float(D) + eps);
    for (int64_t i = threadIdx.x; i < D; i += kThreads)
        ot[i] = (xt[i] - mean) * inv_std * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}

// Pair p of a head: its two dimensions (p and p + half, or 2p and 2p + 1 for GPT-J's pairs), and
// the pair turned by the token's angle, in rounded operations so that every kernel that turns
// pairs gives the same bits.
struct RopePair {
    int64_t ia, ib;
};
__device__ __forceinline__ RopePair rope_pair(int64_t p, int64_t half, bool neox) {
    return neox ? RopePair{p, p + half} : RopePair{2 * p, 2 * p + 1};
}
__device__ __forceinline__ float2 turn(float a, float b, float c, float s) {
    return make_float2(__fmaf_rn(a, c, -__fmul_rn(b, s)), __fmaf_rn(a, s, __fmul_rn(b, c)));
}

// Rotated pair i of T tokens' heads of x (H a token) and then of x2 (H2 a token; q and k in one
// launch), turned in place; pairs lie within the first 2 * half dimensions of each head of Dh.
// What was turned: the token, the head (from H on, x2's), the pair's dimensions and new values.
struct TurnedPair {
    int64_t t, h;
    RopePair e;
    float2 r;
};
__device__ __forceinline__ TurnedPair turn_pair(int64_t i, float* x, int64_t H, float* x2, int64_t H2, int64_t Dh,
                                                int64_t half, const float* __restrict__ cos_sin, bool neox) {
    const int64_t p = i % half, th = i / half, t = th / (H + H2), h = th % (H + H2);
    float* head = h < H ? x + (t * H + h) * Dh : x2 + (t * H2 + h - H) * Dh;
    const RopePair e = rope_pair(p, half, neox);
    const float2 r = turn(head[e.ia], head[e.ib], cos_sin[t * 2 * half + p], cos_sin[t * 2 * half + half + p]);
    head[e.ia] = r.x;
    head[e.ib] = r.y;
    return {t, h, e, r};
}

// One thread per rotated pair.
__global__ void rope_kernel(float* x, int64_t H, float* x2, int64_t H2, int64_t T, int64_t Dh, int64_t half,
                            const float* __restrict__ cos_sin, bool neox) {
    follow_previous_kernel();
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < T * (H + H2) * half) turn_pair(i, x, H, x2, H2, Dh, half, cos_sin, neox);
}

template <typename Out> __device__ __forceinline__ Out cache_value(float v);
template <> __device__ __forceinline__ __half cache_value<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ float cache_value<float>(float v) { return v; }

// rope_kernel over q [T, H, Dh] and k [T, Hkv, Dh], each turned key also written to row
// positions[t] of the key cache; then k's dimensions past the turned ones (partial rope) and v's
// rows into their caches, as store_rows_kernel does: three index ranges of one launch.
template <typename Out>
__global__ void rope_store_kernel(float* q, int64_t H, float* k, int64_t Hkv, const float* __restrict__ v, int64_t T,
                                  int64_t Dh, int64_t half, const float* __restrict__ cos_sin, bool neox,
                                  Out* __restrict__ k_cache, Out* __restrict__ v_cache,
                                  const int32_t* __restrict__ positions) {
    follow_previous_kernel();
    int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t n = Hkv * Dh;  // a token's keys (and values)
    const int64_t pairs = T * (H + Hkv) * half;
    if (i < pairs) {
        const TurnedPair tp = turn_pair(i, q, H, k, Hkv, Dh, half, cos_sin, neox);
        if (tp.h >= H) {
            Out* row = k_cache + int64_t(positions[tp.t]) * n + (tp.h - H) * Dh;
            row[tp.e.ia] = cache_value<Out>(tp.r.x);
            row[tp.e.ib] = cache_value<Out>(tp.r.y);
        }
        return;
    }
    i -= pairs;
    const int64_t unturned = Dh - 2 * half;
    if (i < T * Hkv * unturned) {
        const int64_t t = i / (Hkv * unturned), j = i % (Hkv * unturned);
        const int64_t d = (j / unturned) * Dh + 2 * half + j % unturned;  // within the token's keys
        k_cache[int64_t(positions[t]) * n + d] = cache_value<Out>(k[t * n + d]);
        return;
    }
    i -= T * Hkv * unturned;
    if (i < T * n) v_cache[int64_t(positions[i / n]) * n + i % n] = cache_value<Out>(v[i]);
}

__device__ float silu_of(float g) { return g / (1.0f + expf(-g)); }

__device__ float gelu_tanh_of(float g) {
    constexpr float k = 0.7978845608028654f;  // sqrt(2 / pi)
    return 0.5f * g * (1.0f + tanhf(k * (g + 0.044715f * g * g * g)));
}

__device__ float gelu_of(float g) { return 0.5f * g * (1.0f + erff(g * 0.7071067811865476f)); }

// act(gate) * up; with q8 (n a multiple of 32: whole warps stay or leave together) also written
// as 8-bit activations for the down projection's matvec.
template <float (*Act)(float)>
__global__ void gated_kernel(const float* gate, const float* up, int64_t n, float* out, void* q8) {
    follow_previous_kernel();
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float v = Act(gate[i]) * up[i];
    out[i] = v;
    if (q8 != nullptr) quantize_group(v, i / 32, q8_codes(q8), q8_scales(q8, n));
}

__global__ void gelu_tanh_kernel(const float* x, int64_t n, float* out) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) out[i] = gelu_tanh_of(x[i]);
}

__global__ void gelu_kernel(const float* x, int64_t n, float* out) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) out[i] = gelu_of(x[i]);
}

__global__ void softcap_kernel(float* x, int64_t n, float cap) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) x[i] = cap * tanhf(x[i] / cap);
}

__global__ void scale_kernel(float* x, int64_t n, float s) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= s;
}

__global__ void add_kernel(float* y, const float* x, int64_t n) {
    follow_previous_kernel();
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) y[i] += x[i];
}

__global__ void add_bias_kernel(float* y, const float* __restrict__ b, int64_t n, int64_t D) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) y[i] += b[i % D];
}

// Round to nearest even, as the CPU's f32_to_f16 (slm/half.h) does.
__global__ void to_f16_kernel(const float* x, int64_t n, __half* out) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __float2half_rn(x[i]);
}

// Row t of rows [T, n] into row positions[t] of the KV cache, as f16 (rounded as to_f16) or f32;
// blockIdx.y picks the pair (keys, values: both in one launch). The slot comes from device
// memory, so a captured decode step stores each token where it goes.
struct StorePair {
    const float* rows[2];
    void* cache[2];
};

template <typename Out>
__global__ void store_rows_kernel(StorePair pair, int64_t T, int64_t n, const int32_t* __restrict__ positions) {
    follow_previous_kernel();
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= T * n) return;
    const float* rows = blockIdx.y == 0 ? pair.rows[0] : pair.rows[1];
    Out* cache = static_cast<Out*>(blockIdx.y == 0 ? pair.cache[0] : pair.cache[1]);
    const int64_t t = i / n, j = i % n;
    cache[int64_t(positions[t]) * n + j] = cache_value<Out>(rows[i]);
}

// One block per row: max, sum of exponentials, scale.
__global__ void softmax_kernel(float* x, int64_t n) {
    float* row = x + int64_t(blockIdx.x) * n;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < n; i += kThreads) m = fmaxf(m, row[i]);
    m = block_reduce<true>(m);
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += kThreads) {
        const float e = expf(row[i] - m);
        row[i] = e;
        sum += e;
    }
    const float inv = 1.0f / block_reduce<false>(sum);
    for (int64_t i = threadIdx.x; i < n; i += kThreads) row[i] *= inv;
}

}  // namespace

void rms_norm(float* x, const float* residual, const float* w, int64_t T, int64_t D, float eps, float* out, void* q8,
              cudaStream_t stream) {
    if (T == 0) return;
    auto run = [&](auto per_thread) {
        launch_dependent(&rms_norm_kernel<decltype(per_thread)::value>, unsigned(T), kNormThreads, stream, x,
                         residual, w, D, eps, out, q8, T * D);
    };
    if (D <= kNormThreads) return run(std::integral_constant<int, 1>{});
    if (D <= 2 * kNormThreads) return run(std::integral_constant<int, 2>{});
    if (D <= 4 * kNormThreads) return run(std::integral_constant<int, 4>{});
    if (D <= 8 * kNormThreads) return run(std::integral_constant<int, 8>{});
    if (D <= 16 * kNormThreads) return run(std::integral_constant<int, 16>{});
    run(std::integral_constant<int, 32>{});  // ops.cpp refuses rows past kMaxNormWidth
}

void rms_norm_deferred(float* x, const float* residual, const float* w, int64_t T, int64_t D, float* out, void* q8,
                       float* sums, cudaStream_t stream) {
    const unsigned chunks = unsigned((D + kNormScaleChunk - 1) / kNormScaleChunk);
    if (T * D > 0)
        launch_dependent(&rms_norm_deferred_kernel, dim3(chunks, unsigned(T)), kNormScaleChunk, stream, x, residual, w,
                         D, out, q8_codes(q8), q8_scales(q8, T * D), sums);
}

void apply_norm_scale(float* out, const float* sums, int64_t T, int64_t D, float eps, cudaStream_t stream) {
    if (T > 0) launch_dependent(&apply_norm_scale_kernel, unsigned(T), kThreads, stream, out, sums, D, eps);
}

void rope_angles(const int32_t* positions, int64_t T, int64_t Dh, const float* inv_freq, float mscale,
                 float* cos_sin, cudaStream_t stream) {
    if (T * Dh > 0)
        launch_dependent(&rope_angles_kernel, grid_for(T * Dh / 2), kThreads, stream, positions, T, Dh / 2, inv_freq,
                         mscale, cos_sin);
}

void layer_norm(const float* x, const float* w, const float* b, int64_t T, int64_t D, float eps, float* out,
                cudaStream_t stream) {
    if (T > 0) layer_norm_kernel<<<unsigned(T), kThreads, 0, stream>>>(x, w, b, D, eps, out);
}

void rope(float* x, int64_t H, float* x2, int64_t H2, int64_t T, int64_t Dh, int64_t rot_dim, const float* cos_sin,
          bool neox, cudaStream_t stream) {
    if (T * (H + H2) * rot_dim > 0)
        launch_dependent(&rope_kernel, grid_for(T * (H + H2) * rot_dim / 2), kThreads, stream, x, H, x2, H2, T, Dh,
                         rot_dim / 2, cos_sin, neox);
}

void rope_store(float* q, int64_t H, float* k, int64_t Hkv, const float* v, int64_t T, int64_t Dh, int64_t rot_dim,
                const float* cos_sin, bool neox, void* k_cache, void* v_cache, bool f16, const int32_t* positions,
                cudaStream_t stream) {
    const int64_t threads = T * (H + Hkv) * rot_dim / 2 + T * Hkv * (Dh - rot_dim) + T * Hkv * Dh;
    if (threads == 0) return;
    if (f16)
        launch_dependent(&rope_store_kernel<__half>, grid_for(threads), kThreads, stream, q, H, k, Hkv, v, T, Dh,
                         rot_dim / 2, cos_sin, neox, static_cast<__half*>(k_cache), static_cast<__half*>(v_cache),
                         positions);
    else
        launch_dependent(&rope_store_kernel<float>, grid_for(threads), kThreads, stream, q, H, k, Hkv, v, T, Dh,
                         rot_dim / 2, cos_sin, neox, static_cast<float*>(k_cache), static_cast<float*>(v_cache),
                         positions);
}

void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out, void* q8, cudaStream_t stream) {
    if (n > 0) launch_dependent(&gated_kernel<gelu_tanh_of>, grid_for(n), kThreads, stream, gate, up, n, out, q8);
}

void gelu_mul(const float* gate, const float* up, int64_t n, float* out, void* q8, cudaStream_t stream) {
    if (n > 0) launch_dependent(&gated_kernel<gelu_of>, grid_for(n), kThreads, stream, gate, up, n, out, q8);
}

void gelu_tanh(const float* x, int64_t n, float* out, cudaStream_t stream) {
    if (n > 0) gelu_tanh_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, n, out);
}

void gelu(const float* x, int64_t n, float* out, cudaStream_t stream) {
    if (n > 0) gelu_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, n, out);
}

void softcap(float* x, int64_t n, float cap, cudaStream_t stream) {
    if (n > 0) softcap_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, n, cap);
}

void scale(float* x, int64_t n, float s, cudaStream_t stream) {
    if (n > 0) scale_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, n, s);
}

void add_bias(float* y, const float* b, int64_t T, int64_t D, cudaStream_t stream) {
    if (T * D > 0) add_bias_kernel<<<grid_for(T * D), kThreads, 0, stream>>>(y, b, T * D, D);
}

void to_f16(const float* x, int64_t n, void* out, cudaStream_t stream) {
    if (n > 0) to_f16_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, n, static_cast<__half*>(out));
}

void store_rows(const float* const rows[2], void* const cache[2], int pairs, int64_t T, int64_t n, bool f16,
                const int32_t* positions, cudaStream_t stream) {
    if (T * n == 0) return;
    const StorePair pair{{rows[0], rows[pairs - 1]}, {cache[0], cache[pairs - 1]}};
    const dim3 grid{grid_for(T * n), unsigned(pairs)};
    if (f16) launch_dependent(&store_rows_kernel<__half>, grid, kThreads, stream, pair, T, n, positions);
    else launch_dependent(&store_rows_kernel<float>, grid, kThreads, stream, pair, T, n, positions);
}

void silu_mul(const float* gate, const float* up, int64_t n, float* out, void* q8, cudaStream_t stream) {
    if (n > 0) launch_dependent(&gated_kernel<silu_of>, grid_for(n), kThreads, stream, gate, up, n, out, q8);
}

void add(float* y, const float* x, int64_t n, cudaStream_t stream) {
    if (n > 0) launch_dependent(&add_kernel, grid_for(n), kThreads, stream, y, x, n);
}

void softmax(float* x, int64_t T, int64_t n, cudaStream_t stream) {
    if (T > 0 && n > 0) softmax_kernel<<<unsigned(T), kThreads, 0, stream>>>(x, n);
}

}  // namespace slm::cuda::launch
