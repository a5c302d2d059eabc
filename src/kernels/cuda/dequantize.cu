// Weights to f16 on the GPU, a slice of rows at a time: what the prompt GEMM (gemm.cpp) feeds to
// the tensor cores. The quantized types go through the same 32-element slices as matvec and
// get_rows (weight_slices.cuh); bf16 is widened to f32 and rounded to f16.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/weight_slices.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

namespace slm::cuda::launch {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

// Four threads per 32-element slice, each writing 8 consecutive outputs as one 16-byte store, so
// that a warp's stores cover 512 contiguous bytes. (One thread per slice writing 64 bytes by halves
// left the stores strided and made this kernel cost more than the GEMM it feeds.) The four threads
// of a slice each load the whole slice; the repeats hit L1.
// Rows are the grid's y (strided past its limit); no 64-bit divisions in the index arithmetic.
template <class Type>
__global__ void dequantize_slices(const uint8_t* __restrict__ W, int64_t rows, int64_t first_row, int64_t chunk_rows,
                                  int64_t K, __half* __restrict__ out) {
    const int i = int(blockIdx.x) * blockDim.x + threadIdx.x;  // quarter-slice within the row
    if (i >= int(K / 8)) return;
    const int s = i / 4, quarter = i % 4;
    const int blocks_per_row = int(K / (32 * Type::kSlicesPerBlock));
    for (int64_t r = blockIdx.y; r < chunk_rows; r += gridDim.y) {
        const slices::Slice slice = Type::load(slices::row_at<Type>(W, rows, blocks_per_row, first_row + r), s);
        // The quarter's 8 codes without indexing the slice's registers dynamically.
        int lo = slice.q[0], hi = slice.q[1];
#pragma unroll
        for (int k = 1; k < 4; ++k)
            if (quarter == k) lo = slice.q[2 * k], hi = slice.q[2 * k + 1];
        const float scale = slice.scale[quarter / 2];
        const int codes[2] = {lo, hi};
        __half2 h[4];
#pragma unroll
        for (int e = 0; e < 8; e += 2) {
            const int c0 = int(int8_t(uint32_t(codes[e / 4]) >> (8 * (e % 4))));
            const int c1 = int(int8_t(uint32_t(codes[e / 4]) >> (8 * (e % 4 + 1))));
            h[e / 2] = __floats2half2_rn(scale * float(c0) - slice.offset, scale * float(c1) - slice.offset);
        }
        *reinterpret_cast<uint4*>(out + r * K + int64_t(s) * 32 + quarter * 8) = *reinterpret_cast<const uint4*>(h);
    }
}

__global__ void bf16_to_f16(const __nv_bfloat16* __restrict__ W, int64_t n, __half* __restrict__ out) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __float2half_rn(__bfloat162float(W[i]));
}

template <class Type>
void launch_slices(const void* W, int64_t rows, int64_t first_row, int64_t chunk_rows, int64_t K, void* out,
                   cudaStream_t stream) {
    const dim3 grid{grid_for(K / 8), unsigned(std::min<int64_t>(chunk_rows, 65535))};
    dequantize_slices<Type><<<grid, kThreads, 0, stream>>>(static_cast<const uint8_t*>(W), rows, first_row,
                                                           chunk_rows, K, static_cast<__half*>(out));
}

}  // namespace

void dequantize_f16(DType w, const void* W, int64_t rows, int64_t first_row, int64_t chunk_rows, int64_t K, void* out,
                    cudaStream_t stream) {
    if (chunk_rows * K == 0) return;
    switch (w) {
        case DType::q4_0: return launch_slices<slices::Q4_0>(W, rows, first_row, chunk_rows, K, out, stream);
        case DType::q8_0: return launch_slices<slices::Q8_0>(W, rows, first_row, chunk_rows, K, out, stream);
        case DType::q4_k: return launch_slices<slices::Q4_K>(W, rows, first_row, chunk_rows, K, out, stream);
        case DType::q5_k: return launch_slices<slices::Q5_K>(W, rows, first_row, chunk_rows, K, out, stream);
        case DType::q6_k: return launch_slices<slices::Q6_K>(W, rows, first_row, chunk_rows, K, out, stream);
        case DType::bf16:
            return bf16_to_f16<<<grid_for(chunk_rows * K), kThreads, 0, stream>>>(
                static_cast<const __nv_bfloat16*>(W) + first_row * K, chunk_rows * K, static_cast<__half*>(out));
        default: return;  // f16 needs no conversion; ops.cpp refuses the rest
    }
}

}  // namespace slm::cuda::launch
