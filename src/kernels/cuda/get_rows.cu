// Embedding lookup on the GPU: out[t, :] = row ids[t] of a table of any dtype a kernel reads
// (f32, f16, bf16, and the quantized types through weight_slices.cuh), converted to f32.
// One thread per 32-element slice of an output row.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/weight_slices.cuh"

#include <cuda_fp16.h>

namespace slm::cuda::launch {
namespace {

template <class Type>
__global__ void get_rows_quantized(const uint8_t* __restrict__ E, int64_t V, int64_t D,
                                   const int32_t* __restrict__ ids, int64_t T, float* __restrict__ out) {
    const int64_t per_row = D / 32;
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= T * per_row) return;
    const int64_t t = i / per_row;
    const int s = int(i % per_row);
    const int blocks_per_row = int(D / (32 * Type::kSlicesPerBlock));
    const slices::Slice slice = Type::load(slices::row_at<Type>(E, V, blocks_per_row, ids[t]), s);
    float* o = out + t * D + int64_t(s) * 32;
#pragma unroll
    for (int e = 0; e < 32; ++e) o[e] = slice.scale[e / 16] * float(slices::code_at(slice, e)) - slice.offset;
}

__device__ __forceinline__ float element_to_float(float v) { return v; }
__device__ __forceinline__ float element_to_float(uint16_t v, bool bf16) {
    return bf16 ? __uint_as_float(uint32_t(v) << 16) : __half2float(__ushort_as_half(v));
}

// Plain types: one thread per element.
__global__ void get_rows_f32(const float* __restrict__ E, int64_t D, const int32_t* __restrict__ ids, int64_t T,
                             float* __restrict__ out) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= T * D) return;
    out[i] = element_to_float(E[size_t(ids[i / D]) * D + i % D]);
}
__global__ void get_rows_half(const uint16_t* __restrict__ E, bool bf16, int64_t D, const int32_t* __restrict__ ids,
                              int64_t T, float* __restrict__ out) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= T * D) return;
    out[i] = element_to_float(E[size_t(ids[i / D]) * D + i % D], bf16);
}

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

template <class Type>
void launch_quantized(const void* E, int64_t V, int64_t D, const int32_t* ids, int64_t T, float* out,
                      cudaStream_t stream) {
    get_rows_quantized<Type><<<grid_for(T * D / 32), kThreads, 0, stream>>>(static_cast<const uint8_t*>(E), V, D, ids,
                                                                            T, out);
}

}  // namespace

bool get_rows_reads(DType e) {
    return e == DType::f32 || e == DType::f16 || e == DType::bf16 || matvec_takes_q8(e);
}

void get_rows(DType e, const void* E, int64_t V, int64_t D, const int32_t* ids, int64_t T, float* out,
              cudaStream_t stream) {
    switch (e) {
        case DType::f32:
            return get_rows_f32<<<grid_for(T * D), kThreads, 0, stream>>>(static_cast<const float*>(E), D, ids, T, out);
        case DType::f16:
        case DType::bf16:
            return get_rows_half<<<grid_for(T * D), kThreads, 0, stream>>>(static_cast<const uint16_t*>(E),
                                                                           e == DType::bf16, D, ids, T, out);
        case DType::q4_0: return launch_quantized<slices::Q4_0>(E, V, D, ids, T, out, stream);
        case DType::q8_0: return launch_quantized<slices::Q8_0>(E, V, D, ids, T, out, stream);
        case DType::q4_k: return launch_quantized<slices::Q4_K>(E, V, D, ids, T, out, stream);
        case DType::q5_k: return launch_quantized<slices::Q5_K>(E, V, D, ids, T, out, stream);
        case DType::q6_k: return launch_quantized<slices::Q6_K>(E, V, D, ids, T, out, stream);
        default: return;  // ops.cpp refuses other types before calling
    }
}

}  // namespace slm::cuda::launch
