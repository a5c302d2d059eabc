// Weights to f16 on the GPU, a slice of rows at a time: what the prompt GEMM (gemm.cpp) feeds to
// the tensor cores. The quantized types go through the same 32-element slices as matvec and
// get_rows (weight_slices.cuh); bf16 is widened to f32 and rounded to f16.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/weight_slices.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace slm::cuda::launch {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

// One thread per 32-element slice of the output.
template <class Type>
__global__ void dequantize_slices(const uint8_t* __restrict__ W, size_t row_bytes, int64_t rows, int64_t K,
                                  __half* __restrict__ out) {
    const int64_t per_row = K / 32;
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= rows * per_row) return;
    const int64_t r = i / per_row;
    const int s = int(i % per_row);
    const slices::Slice slice = Type::load(W + size_t(r) * row_bytes, s);
    __half2* o = reinterpret_cast<__half2*>(out + r * K + int64_t(s) * 32);
#pragma unroll
    for (int e = 0; e < 32; e += 2)
        o[e / 2] = __floats2half2_rn(slice.scale[e / 16] * float(slices::code_at(slice, e)) - slice.offset,
                                     slice.scale[e / 16] * float(slices::code_at(slice, e + 1)) - slice.offset);
}

__global__ void bf16_to_f16(const __nv_bfloat16* __restrict__ W, int64_t n, __half* __restrict__ out) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __float2half_rn(__bfloat162float(W[i]));
}

template <class Type>
void launch_slices(const void* W, int64_t rows, int64_t K, void* out, cudaStream_t stream) {
    const size_t row_bytes = size_t(K / (32 * Type::kSlicesPerBlock)) * Type::kBlockBytes;
    dequantize_slices<Type><<<grid_for(rows * K / 32), kThreads, 0, stream>>>(
        static_cast<const uint8_t*>(W), row_bytes, rows, K, static_cast<__half*>(out));
}

}  // namespace

void dequantize_f16(DType w, const void* W, int64_t rows, int64_t K, void* out, cudaStream_t stream) {
    if (rows * K == 0) return;
    switch (w) {
        case DType::q4_0: return launch_slices<slices::Q4_0>(W, rows, K, out, stream);
        case DType::q8_0: return launch_slices<slices::Q8_0>(W, rows, K, out, stream);
        case DType::q4_k: return launch_slices<slices::Q4_K>(W, rows, K, out, stream);
        case DType::q5_k: return launch_slices<slices::Q5_K>(W, rows, K, out, stream);
        case DType::q6_k: return launch_slices<slices::Q6_K>(W, rows, K, out, stream);
        case DType::bf16:
            return bf16_to_f16<<<grid_for(rows * K), kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(W),
                                                                             rows * K, static_cast<__half*>(out));
        default: return;  // f16 needs no conversion; ops.cpp refuses the rest
    }
}

}  // namespace slm::cuda::launch
