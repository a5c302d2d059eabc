// Matrix x vector for decode and small batches (T <= 8 tokens): y[t, n] = W[n, :] . x[t, :] with W
// read in the GPU's layout (weight_slices.cuh); up to kMaxMatvecOuts matrices reading the same x (q/k/v,
// gate/up) in one launch, each taking its own run of blocks. A warp takes R rows (1, 2 or 4), its
// lanes on consecutive 32-element slices so that a warp's loads of a row are one contiguous
// stretch. Quantized weights meet 8-bit activations (quantize_q8: one scale per 32 elements, as
// ggml's q8_1) in dp4a integer dot products; f16/bf16 weights meet f32 activations.
#include "kernels/cuda/dependent_launch.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/q8_activations.cuh"
#include "kernels/cuda/weight_slices.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <type_traits>

namespace slm::cuda::launch {
namespace {

constexpr int kWarpsPerBlock = 4;

// The matrices of one launch: matrix m takes blocks [end_block[m - 1], end_block[m]).
struct Group {
    const uint8_t* W[kMaxMatvecOuts];
    float* y[kMaxMatvecOuts];
    int N[kMaxMatvecOuts];
    unsigned end_block[kMaxMatvecOuts];
    int count;
};

// This block's matrix, and its first row there.
struct Rows {
    const uint8_t* W;
    float* y;
    int N, row0;
};

// Every index into g is a constant after unrolling, so the kernel reads the matrices from its
// parameters where they are: indexing them by a computed m made each thread copy the whole group
// to local memory first, which cost a 7B decode step a fifth of its speed.
template <int R>
__device__ __forceinline__ Rows block_rows(const Group& g) {
    Rows rows{g.W[0], g.y[0], g.N[0], 0};
    unsigned first = 0;
#pragma unroll
    for (int m = 1; m < kMaxMatvecOuts; ++m)
        if (m < g.count && blockIdx.x >= g.end_block[m - 1]) {
            rows = {g.W[m], g.y[m], g.N[m], 0};
            first = g.end_block[m - 1];
        }
    rows.row0 = int(((blockIdx.x - first) * kWarpsPerBlock + threadIdx.x / 32) * R);
    return rows;
}

// Activations in 8 bits (q8_activations.cuh): one warp per 32 elements, a lane per element.
__global__ void quantize_q8_kernel(const float* __restrict__ x, int64_t blocks, int8_t* __restrict__ codes,
                                   float2* __restrict__ ds) {
    follow_previous_kernel();
    const int64_t b = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
    if (b >= blocks) return;
    quantize_group(x[b * 32 + threadIdx.x % 32], b, codes, ds);
}

// Each token's 1/rms of a norm the matvec applies (NormScale): lane c loads the token's chunk sum
// c right after the wait (at most 32 chunks: K <= 8192), and the warp sums them when it writes
// its outputs, so that the loads' latency hides behind the main loop.
template <int T>
struct NormInverse {
    float part[T];

    __device__ __forceinline__ void load(const NormScale& s, int slices, int lane) {
        const int chunks = (slices * 32 + kNormScaleChunk - 1) / kNormScaleChunk;
#pragma unroll
        for (int t = 0; t < T; ++t) part[t] = s.sums != nullptr && lane < chunks ? s.sums[t * chunks + lane] : 0.0f;
    }
    __device__ __forceinline__ float inverse(const NormScale& s, int slices, int t) const {
        return rsqrtf(warp_sum(part[t]) / float(slices * 32) + s.eps);
    }
};

// slice . activations of one token: the integer sums of each half, scaled, minus the offset
// times the activations' scaled sum. Rounded operations (no contraction left to the compiler), so
// that a (row, token) value is the same whatever the kernel's token count: batch invariance.
__device__ __forceinline__ float slice_dot(const slices::Slice& w, const int a[8], float2 a_ds) {
    int lo = 0, hi = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        lo = __dp4a(w.q[i], a[i], lo);
        hi = __dp4a(w.q[4 + i], a[4 + i], hi);
    }
    const float x = __fmaf_rn(w.scale[1], float(hi), __fmul_rn(w.scale[0], float(lo)));
    return __fmaf_rn(a_ds.x, x, -__fmul_rn(w.offset, a_ds.y));
}

// A warp computes R rows (each token's activations loaded once for the R of them: at T = 8 the
// activations, not the weights, are most of the bytes a lane reads, from L1). Rows past N repeat
// the last row and are not written. For one token each lane keeps the fetched bytes of its next
// U = Type::kDepth slices of every row in flight (weight_slices.cuh: fetch, then decode): a
// 4096-wide q4_0 row is four slices a lane, and loading them one after another left the loads of
// a short row waiting on each other. More tokens take U = 1: their activations are the reuse.
// A decode step's matvecs are mostly one token and one row a warp: there eight blocks a
// multiprocessor (at most 64 registers a thread), which the norm's scale (NormInverse) had pushed
// q4_k's kernel past; q6_k's slices need more registers and keep their own count.
template <class Type, int T, int R>
constexpr int min_blocks_per_sm() {
    return T == 1 && R == 1 && !std::is_same_v<Type, slices::Q6_K> ? 8 : 1;
}

template <class Type, int T, int R>
__global__ void __launch_bounds__(kWarpsPerBlock * 32, min_blocks_per_sm<Type, T, R>())
    matvec_q8_kernel(const Group g, int slices_per_row, const int8_t* __restrict__ codes,
                     const float2* __restrict__ ds, const NormScale norm) {
    constexpr int U = T == 1 ? Type::kDepth : 1;
    const auto [W, y, N, row0] = block_rows<R>(g);
    const int lane = threadIdx.x % 32;
    const size_t K = size_t(slices_per_row) * 32;
    const int blocks_per_row = slices_per_row / Type::kSlicesPerBlock;
    slices::Row w[R];
#pragma unroll
    for (int r = 0; r < R; ++r) w[r] = slices::row_at<Type>(W, N, blocks_per_row, min(row0 + r, N - 1));
    // The first weights load before waiting on the kernel before, whose outputs they do not
    // depend on: under a dependent launch they arrive while that kernel finishes.
    typename Type::Raw raw[U][R] = {};
#pragma unroll
    for (int u = 0; u < U; ++u)
        if (row0 < N && lane + 32 * u < slices_per_row)
#pragma unroll
            for (int r = 0; r < R; ++r) raw[u][r] = Type::fetch(w[r], lane + 32 * u);
    follow_previous_kernel();
    if (row0 >= N) return;  // whole warps leave together: the shuffles below see full warps
    NormInverse<T> norm_inverse;
    norm_inverse.load(norm, slices_per_row, lane);
    float acc[R][T];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int t = 0; t < T; ++t) acc[r][t] = 0.0f;
    for (int first = lane; first < slices_per_row; first += 32 * U) {
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int s = first + 32 * u;
            if (s >= slices_per_row) break;
            slices::Slice ws[R];
#pragma unroll
            for (int r = 0; r < R; ++r) ws[r] = Type::decode(raw[u][r], s);
            if (s + 32 * U < slices_per_row)  // refill the slot U slices ahead
#pragma unroll
                for (int r = 0; r < R; ++r) raw[u][r] = Type::fetch(w[r], s + 32 * U);
#pragma unroll
            for (int t = 0; t < T; ++t) {
                int a[8];
                slices::ints_at_a16(reinterpret_cast<const uint8_t*>(codes + t * K + size_t(s) * 32), a);
                const float2 a_ds = ds[size_t(t) * slices_per_row + s];
#pragma unroll
                for (int r = 0; r < R; ++r) acc[r][t] = __fadd_rn(acc[r][t], slice_dot(ws[r], a, a_ds));
            }
        }
    }
    float inv_rms[T];
#pragma unroll
    for (int t = 0; t < T; ++t) inv_rms[t] = norm.sums != nullptr ? norm_inverse.inverse(norm, slices_per_row, t) : 1.0f;
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int t = 0; t < T; ++t) {
            float v = warp_sum(acc[r][t]);
            if (norm.sums != nullptr) v = __fmul_rn(v, inv_rms[t]);
            if (lane == 0 && row0 + r < N) y[size_t(t) * N + row0 + r] = v;
        }
}

// Eight f16 or bf16 weights (one 128-bit load) as floats.
template <class H> __device__ __forceinline__ void to_floats(int4 raw, float out[8]);
template <> __device__ __forceinline__ void to_floats<__half>(int4 raw, float out[8]) {
    const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 f = __half22float2(h[i]);
        out[2 * i] = f.x, out[2 * i + 1] = f.y;
    }
}
template <> __device__ __forceinline__ void to_floats<__nv_bfloat16>(int4 raw, float out[8]) {
    const unsigned words[4] = {unsigned(raw.x), unsigned(raw.y), unsigned(raw.z), unsigned(raw.w)};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        out[2 * i] = __uint_as_float(words[i] << 16);
        out[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
    }
}

// f16 / bf16 weights with f32 activations: lanes on consecutive 8-element chunks, R rows a warp.
template <class H, int T, int R>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    matvec_float_kernel(const Group g, int K, const float* __restrict__ x) {
    follow_previous_kernel();
    const auto [bytes, y, N, row0] = block_rows<R>(g);
    const H* W = reinterpret_cast<const H*>(bytes);
    if (row0 >= N) return;
    const int lane = threadIdx.x % 32;
    const int4* w[R];
#pragma unroll
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const int4*>(W + size_t(min(row0 + r, N - 1)) * K);
    const int chunks = K / 8;
    float acc[R][T];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int t = 0; t < T; ++t) acc[r][t] = 0.0f;
    for (int c = lane; c < chunks; c += 32) {
        float f[R][8];
#pragma unroll
        for (int r = 0; r < R; ++r) to_floats<H>(w[r][c], f[r]);
#pragma unroll
        for (int t = 0; t < T; ++t) {
            const float4* xt = reinterpret_cast<const float4*>(x + size_t(t) * K) + 2 * c;
            const float4 x0 = xt[0], x1 = xt[1];
            const float xs[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
#pragma unroll
            for (int r = 0; r < R; ++r) {
                float sum = __fmul_rn(f[r][0], xs[0]);
#pragma unroll
                for (int i = 1; i < 8; ++i) sum = __fmaf_rn(f[r][i], xs[i], sum);
                acc[r][t] = __fadd_rn(acc[r][t], sum);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int t = 0; t < T; ++t) {
            const float v = warp_sum(acc[r][t]);
            if (lane == 0 && row0 + r < N) y[size_t(t) * N + row0 + r] = v;
        }
}

unsigned blocks_for(int64_t N, int R) {
    const int64_t rows_per_block = int64_t(kWarpsPerBlock) * R;
    return unsigned((N + rows_per_block - 1) / rows_per_block);
}

Group group_of(const MatvecOut* outs, int count, int R) {
    Group g{};
    g.count = count;
    unsigned blocks = 0;
    for (int m = 0; m < count; ++m) {
        g.W[m] = static_cast<const uint8_t*>(outs[m].W);
        g.y[m] = outs[m].y;
        g.N[m] = int(outs[m].N);
        blocks += blocks_for(outs[m].N, R);
        g.end_block[m] = blocks;
    }
    return g;
}

template <class Type, int T, int R>
void launch_q8(const Group& g, int64_t K, const void* x_q8, NormScale norm, cudaStream_t stream) {
    const int slices_per_row = int(K / 32);
    const auto* codes = static_cast<const int8_t*>(x_q8);
    const auto* ds = reinterpret_cast<const float2*>(codes + size_t(T) * K);
    const unsigned blocks = g.end_block[g.count - 1];
    launch_dependent(&matvec_q8_kernel<Type, T, R>, blocks, kWarpsPerBlock * 32, stream, g, slices_per_row, codes, ds,
                     norm);
}

template <class H, int T, int R>
void launch_float(const Group& g, int64_t K, const float* x, cudaStream_t stream) {
    launch_dependent(&matvec_float_kernel<H, T, R>, g.end_block[g.count - 1], kWarpsPerBlock * 32, stream, g, int(K),
                     x);
}

// The kernel for T tokens and R rows a warp as compile-time counts (registers): T in
// 1..kMaxMatvecTokens, R in {1, 2, 4}.
template <class Type, int T = 1>
void dispatch(int tokens, int rows, const MatvecOut* outs, int count, int64_t K, const float* x, const void* x_q8,
              NormScale norm, cudaStream_t stream) {
    if constexpr (T <= kMaxMatvecTokens) {
        if (tokens != T) return dispatch<Type, T + 1>(tokens, rows, outs, count, K, x, x_q8, norm, stream);
        const Group g = group_of(outs, count, rows);
        if constexpr (std::is_same_v<Type, __half> || std::is_same_v<Type, __nv_bfloat16>) {
            if (rows == 1) return launch_float<Type, T, 1>(g, K, x, stream);
            if (rows == 2) return launch_float<Type, T, 2>(g, K, x, stream);
            return launch_float<Type, T, 4>(g, K, x, stream);
        } else {
            if (rows == 1) return launch_q8<Type, T, 1>(g, K, x_q8, norm, stream);
            if (rows == 2) return launch_q8<Type, T, 2>(g, K, x_q8, norm, stream);
            return launch_q8<Type, T, 4>(g, K, x_q8, norm, stream);
        }
    }
}

}  // namespace

bool matvec_reads(DType w) {
    return matvec_takes_q8(w) || w == DType::f16 || w == DType::bf16;
}

bool matvec_takes_q8(DType w) {
    return w == DType::q4_0 || w == DType::q8_0 || w == DType::q4_k || w == DType::q5_k || w == DType::q6_k;
}

void quantize_q8(const float* x, int64_t T, int64_t K, void* q8, cudaStream_t stream) {
    const int64_t blocks = T * K / 32;
    int8_t* codes = q8_codes(q8);
    float2* ds = q8_scales(q8, T * K);
    constexpr int kThreads = 256;
    const unsigned grid = unsigned((blocks * 32 + kThreads - 1) / kThreads);
    launch_dependent(&quantize_q8_kernel, grid, kThreads, stream, x, blocks, codes, ds);
}

// Measured on an H200 over four 7B shapes (docs/cuda.md): more rows a warp reuse each token's
// activations more, but leave fewer warps; one token needs the warps most, eight the reuse. (Since
// the split layout, two tokens gain from fewer rows a warp than before: their loads are wider.)
int matvec_rows_per_warp(int64_t N, int T) {
    if (T == 1) return N >= 16384 ? 2 : 1;
    if (T == 2) return N >= 16384 ? 4 : 1;
    if (T <= 4) return 2;
    return 4;
}

void matvec(DType w, const MatvecOut* outs, int count, int64_t K, const float* x, const void* x_q8, int T,
            cudaStream_t stream, int rows_per_warp, NormScale norm) {
    int64_t N = 0;
    for (int m = 0; m < count; ++m) N = std::max(N, outs[m].N);
    const int R = rows_per_warp > 0 ? rows_per_warp : matvec_rows_per_warp(N, T);
    switch (w) {
        case DType::q4_0: return dispatch<slices::Q4_0>(T, R, outs, count, K, x, x_q8, norm, stream);
        case DType::q8_0: return dispatch<slices::Q8_0>(T, R, outs, count, K, x, x_q8, norm, stream);
        case DType::q4_k: return dispatch<slices::Q4_K>(T, R, outs, count, K, x, x_q8, norm, stream);
        case DType::q5_k: return dispatch<slices::Q5_K>(T, R, outs, count, K, x, x_q8, norm, stream);
        case DType::q6_k: return dispatch<slices::Q6_K>(T, R, outs, count, K, x, x_q8, norm, stream);
        case DType::f16: return dispatch<__half>(T, R, outs, count, K, x, x_q8, norm, stream);
        case DType::bf16: return dispatch<__nv_bfloat16>(T, R, outs, count, K, x, x_q8, norm, stream);
        default: return;  // ops.cpp refuses other types before calling
    }
}

}  // namespace slm::cuda::launch
