// A quantized matrix into the GPU's layout (weight_slices.cuh): the blocks of the types whose size
// is not a multiple of 16 bytes split into bodies, all first, then tails. Run once per matrix as
// the weights are uploaded, over a staging copy of some of its rows in the file's layout.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/weight_slices.cuh"

namespace slm::cuda::launch {
namespace {

constexpr int kThreads = 256;

// One thread per block; blocks are only 2-byte aligned in the file, so bytes move as 16-bit words.
template <class Type>
__global__ void split_blocks_kernel(const uint16_t* __restrict__ raw, int64_t rows, int64_t first_row,
                                    int64_t chunk_rows, int blocks_per_row, uint8_t* __restrict__ W) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;  // block within the chunk
    if (i >= chunk_rows * blocks_per_row) return;
    const int64_t b = first_row * blocks_per_row + i;  // block within the matrix
    const uint16_t* block = raw + i * (Type::kBlockBytes / 2);
    auto* body = reinterpret_cast<uint16_t*>(W + b * Type::kBodyBytes);
    auto* tail = reinterpret_cast<uint16_t*>(W + rows * blocks_per_row * Type::kBodyBytes + b * Type::kTailBytes);
#pragma unroll
    for (int k = 0; k < Type::kBodyBytes / 2; ++k) body[k] = block[Type::kBodyAt / 2 + k];
#pragma unroll
    for (int k = 0; k < Type::kTailBytes / 2; ++k) tail[k] = block[Type::kTailAt / 2 + k];
}

template <class Type>
void launch_split(const void* raw, int64_t rows, int64_t first_row, int64_t chunk_rows, int64_t K, void* W,
                  cudaStream_t stream) {
    static_assert(Type::kBodyBytes % 16 == 0 && Type::kBlockBytes % 2 == 0 && Type::kBodyAt % 2 == 0 &&
                  Type::kTailAt % 2 == 0 && Type::kBodyBytes + Type::kTailBytes == Type::kBlockBytes);
    const int blocks_per_row = int(K / (32 * Type::kSlicesPerBlock));
    const int64_t n = chunk_rows * blocks_per_row;
    split_blocks_kernel<Type><<<unsigned((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
        static_cast<const uint16_t*>(raw), rows, first_row, chunk_rows, blocks_per_row, static_cast<uint8_t*>(W));
}

}  // namespace

bool splits_blocks(DType w) { return w == DType::q4_0 || w == DType::q8_0 || w == DType::q6_k; }

void split_blocks(DType w, const void* raw, int64_t rows, int64_t first_row, int64_t chunk_rows, int64_t K, void* W,
                  cudaStream_t stream) {
    if (chunk_rows * K == 0) return;
    switch (w) {
        case DType::q4_0: return launch_split<slices::Q4_0>(raw, rows, first_row, chunk_rows, K, W, stream);
        case DType::q8_0: return launch_split<slices::Q8_0>(raw, rows, first_row, chunk_rows, K, W, stream);
        case DType::q6_k: return launch_split<slices::Q6_K>(raw, rows, first_row, chunk_rows, K, W, stream);
        default: return;  // the other types keep the file's layout
    }
}

}  // namespace slm::cuda::launch
