// Causal attention of a prompt's queries over an f16 KV cache on the tensor cores (flash
// attention): a block takes 64 queries of one head, walks the keys they see in tiles of 64 staged
// in shared memory, and keeps each query's running max, sum and weighted value sums (online
// softmax) in registers. Scores and weighted values are mma.sync products of f16 operands with f32
// accumulators: the queries (scaled) and the softmax weights are rounded to f16, the cache already
// is. The split-key kernel (attention.cu) stays for decode, where a step has too few queries to
// fill an mma's 16 rows, and for f32 caches and head sizes this kernel has no instance for.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/visible_keys.cuh"

#include <cuda_fp16.h>

#include <cstdint>

namespace slm::cuda::launch {
namespace {

constexpr int kWarps = 4;
constexpr int kQueries = kWarps * 16;  // an mma's 16 rows per warp
constexpr int kKeys = 64;              // keys per tile

__device__ __forceinline__ uint32_t half2_bits(float a, float b) {
    const __half2 h = __floats2half2_rn(a, b);
    return *reinterpret_cast<const uint32_t*>(&h);
}

// c += a (16x16, row-major) x b (16x8, column-major): f16 operands, f32 accumulators. Fragments
// as the PTX manual lays them out: lane l holds rows l/4 and l/4 + 8, column pairs 2(l%4)...
__device__ __forceinline__ void mma_16x8x16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Four 8x8 f16 matrices from shared memory, transposed: lanes 8i..8i+7 give the row addresses of
// matrix i, and lane l receives its rows 2(l%4), 2(l%4)+1 at column l/4, which is an mma's
// column-major b fragment when the stored rows are the k dimension (keys, for the values).
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const __half* row) {
    const unsigned address = unsigned(__cvta_generic_to_shared(row));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
}

template <int D>
__global__ void __launch_bounds__(kWarps * 32)
    flash_attention_kernel(const float* __restrict__ q, int64_t T, int64_t H, int64_t Hkv,
                           const __half* __restrict__ k_cache, const __half* __restrict__ v_cache, int64_t S,
                           const int32_t* __restrict__ q_pos, int window, float scale, float softcap,
                           float* __restrict__ out) {
    static_assert(D % 16 == 0 && D <= 128, "head sizes of whole mma tiles, within the registers");
    constexpr int kStride = D + 8;  // halfs a staged row takes: rows start 4 banks apart
    __shared__ __align__(16) __half keys[kKeys * kStride], values[kKeys * kStride];
    __shared__ int span_first, span_last;

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, c = lane % 4;  // fragment row group and column pair
    const int64_t h = blockIdx.y, kvh = h / (H / Hkv);
    const int64_t row0 = int64_t(blockIdx.x) * kQueries + warp * 16;

    // This lane's two query rows (g and g + 8 of the warp's 16) and the keys each sees.
    int first[2], last[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int64_t t = row0 + g + 8 * r;
        first[r] = 1, last[r] = 0;
        if (t < T) {
            int64_t key_first, key_last;
            visible_keys(q_pos[t], S, window, key_first, key_last);
            first[r] = int(key_first), last[r] = int(key_last);
        }
    }
    if (threadIdx.x == 0) span_first = INT32_MAX, span_last = -1;
    __syncthreads();
#pragma unroll
    for (int r = 0; r < 2; ++r)
        if (first[r] <= last[r]) atomicMin(&span_first, first[r]), atomicMax(&span_last, last[r]);

    // The queries as a fragments, scaled before rounding to f16.
    uint32_t qa[D / 16][4];
#pragma unroll
    for (int kc = 0; kc < D / 16; ++kc)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int64_t t = row0 + g + 8 * (i % 2);
            const int d = kc * 16 + 2 * c + 8 * (i / 2);
            float2 x = make_float2(0.0f, 0.0f);
            if (t < T) x = *reinterpret_cast<const float2*>(q + (t * H + h) * D + d);
            qa[kc][i] = half2_bits(x.x * scale, x.y * scale);
        }

    float o[D / 8][4] = {};
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    __syncthreads();
    const int k_begin = span_first / kKeys * kKeys, k_end = span_last;

    for (int k0 = k_begin; k0 <= k_end; k0 += kKeys) {
        // Stage the tile's keys and values, 16 bytes a thread at a time; keys past the span are
        // zeros (masked below, and zero values keep 0 x value finite).
        __syncthreads();
        constexpr int kChunks = D / 8;
        for (int i = threadIdx.x; i < kKeys * kChunks; i += kWarps * 32) {
            const int key = i / kChunks, part = i % kChunks;
            const int64_t j = k0 + key;
            uint4 kv = make_uint4(0, 0, 0, 0), vv = kv;
            if (j <= k_end) {
                const int64_t at = (j * Hkv + kvh) * D + part * 8;
                kv = *reinterpret_cast<const uint4*>(k_cache + at);
                vv = *reinterpret_cast<const uint4*>(v_cache + at);
            }
            *reinterpret_cast<uint4*>(keys + key * kStride + part * 8) = kv;
            *reinterpret_cast<uint4*>(values + key * kStride + part * 8) = vv;
        }
        __syncthreads();
        // A warp none of whose queries sees a key of this tile skips it.
        const bool sees = (first[0] <= last[0] && first[0] < k0 + kKeys && last[0] >= k0) ||
                          (first[1] <= last[1] && first[1] < k0 + kKeys && last[1] >= k0);
        if (!__any_sync(0xffffffffu, sees)) continue;

        // Scores: 16 queries x 64 keys, as 8 tiles of 8 keys.
        float s[kKeys / 8][4] = {};
#pragma unroll
        for (int nt = 0; nt < kKeys / 8; ++nt) {
            const __half* key_row = keys + (nt * 8 + g) * kStride + 2 * c;
#pragma unroll
            for (int kc = 0; kc < D / 16; ++kc) {
                const uint32_t b0 = *reinterpret_cast<const uint32_t*>(key_row + kc * 16);
                const uint32_t b1 = *reinterpret_cast<const uint32_t*>(key_row + kc * 16 + 8);
                mma_16x8x16(s[nt], qa[kc], b0, b1);
            }
        }
        // Soft-capping, the mask, and each row's new maximum (over the 4 lanes sharing the row).
        float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < kKeys / 8; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int r = e / 2, j = k0 + nt * 8 + 2 * c + e % 2;
                float v = s[nt][e];
                if (softcap > 0.0f) v = softcap * tanhf(v / softcap);
                v = (j >= first[r] && j <= last[r]) ? v : -INFINITY;
                s[nt][e] = v;
                tile_max[r] = fmaxf(tile_max[r], v);
            }
        float correction[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
            const float m_new = fmaxf(m[r], tile_max[r]);
            // A row that has seen no key yet keeps zeros: exp against 0 instead of -inf - -inf.
            const float base = m_new == -INFINITY ? 0.0f : m_new;
            correction[r] = expf(m[r] - base);
            l[r] *= correction[r];
            m[r] = m_new;
            tile_max[r] = base;
        }
#pragma unroll
        for (int nt = 0; nt < kKeys / 8; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float p = expf(s[nt][e] - tile_max[e / 2]);
                s[nt][e] = p;
                l[e / 2] += p;
            }
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt)
#pragma unroll
            for (int e = 0; e < 4; ++e) o[dt][e] *= correction[e / 2];

        // Weighted values: the weights' accumulator fragments are the next product's a fragments
        // (keys 0-7 and 8-15 of each 16 are two neighbouring score tiles).
#pragma unroll
        for (int kc = 0; kc < kKeys / 16; ++kc) {
            const uint32_t pa[4] = {half2_bits(s[2 * kc][0], s[2 * kc][1]), half2_bits(s[2 * kc][2], s[2 * kc][3]),
                                    half2_bits(s[2 * kc + 1][0], s[2 * kc + 1][1]),
                                    half2_bits(s[2 * kc + 1][2], s[2 * kc + 1][3])};
            const int key = kc * 16 + lane % 8 + 8 * ((lane / 8) % 2);
#pragma unroll
            for (int dt = 0; dt < D / 8; dt += 2) {
                uint32_t b[4];
                ldmatrix_x4_trans(b, values + key * kStride + dt * 8 + 8 * (lane / 16));
                mma_16x8x16(o[dt], pa, b[0], b[1]);
                mma_16x8x16(o[dt + 1], pa, b[2], b[3]);
            }
        }
    }

#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int64_t t = row0 + g + 8 * r;
        if (t >= T) continue;
        float* y = out + (t * H + h) * D + 2 * c;
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;  // no visible key: zeros, as the reference
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt)
            *reinterpret_cast<float2*>(y + dt * 8) = make_float2(o[dt][2 * r] * inv, o[dt][2 * r + 1] * inv);
    }
}

template <int D>
void launch_flash(const float* q, int64_t T, int64_t H, int64_t Hkv, const void* k_cache, const void* v_cache,
                  int64_t S, const int32_t* q_pos, int window, float scale, float softcap, float* out,
                  cudaStream_t stream) {
    const dim3 grid{unsigned((T + kQueries - 1) / kQueries), unsigned(H)};
    flash_attention_kernel<D><<<grid, kWarps * 32, 0, stream>>>(q, T, H, Hkv, static_cast<const __half*>(k_cache),
                                                               static_cast<const __half*>(v_cache), S, q_pos,
                                                               window, scale, softcap, out);
}

}  // namespace

bool flash_attention_reads(int64_t Dh) { return Dh == 64 || Dh == 80 || Dh == 96 || Dh == 128; }

void flash_attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
                     const void* v_cache, int64_t S, const int32_t* q_pos, int window, float scale, float softcap,
                     float* out, cudaStream_t stream) {
    if (T * H == 0) return;
    switch (Dh) {
        case 64: return launch_flash<64>(q, T, H, Hkv, k_cache, v_cache, S, q_pos, window, scale, softcap, out, stream);
        case 80: return launch_flash<80>(q, T, H, Hkv, k_cache, v_cache, S, q_pos, window, scale, softcap, out, stream);
        case 96: return launch_flash<96>(q, T, H, Hkv, k_cache, v_cache, S, q_pos, window, scale, softcap, out, stream);
        case 128:
            return launch_flash<128>(q, T, H, Hkv, k_cache, v_cache, S, q_pos, window, scale, softcap, out, stream);
        default: return;  // ops.cpp sends other head sizes to the split-key kernel
    }
}

}  // namespace slm::cuda::launch
