// Prompt-processing GEMM for quantized weights: a panel of weight rows is unpacked once into an
// interleaved 8-bit scratch layout and swept over many tokens by a register-blocked microkernel.
// Faster than the row dots from a few dozen tokens on; decode keeps the row dots (bandwidth bound),
// except for interleaved8 weights, whose GEMM reads them in place for any number of tokens.
#pragma once

#include "kernels/cpu/activation_blocks.h"
#include "kernels/cpu/isa.h"

#include <slm/dtype.h>
#include <slm/kernels.h>
#include <slm/tensor.h>
#include <slm/thread_pool.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace slm::kernels {

// y[t * y_stride + n] = W[n] . x_t for n in [0, N), t in [0, T). W: N rows of K elements of the
// entry's dtype, w_stride bytes apart; x: T activation rows in the entry's ActFormat, x_stride
// apart.
using GemmFn = void (*)(const void* w, size_t w_stride, int64_t N, int64_t K, const void* x, size_t x_stride,
                        int64_t T, float* y, int64_t y_stride);

// kernels::matmul takes a packing GEMM from this many tokens on, where packing a panel of weight
// rows once costs less than the row dots' unpacking per 4 tokens (measured with bench_kernels).
constexpr int64_t kGemmMinTokens = 16;

// A GEMM and the fewest tokens it pays from: kGemmMinTokens for weights in the file's row layout,
// which it packs into panels first; 1 for interleaved8 weights, already in panel order, which
// serve decode and prompts alike (so that both sum every output in the same order).
struct GemmKernel {
    GemmFn fn = nullptr;  // nullptr where the level has none (the row dots serve prompts too)
    int64_t min_tokens = kGemmMinTokens;
    ActFormat act = ActFormat::q8_32;  // the interleaved k-quants take q8_256
};

// Indexed by weight DType, one table per layout and level; defined on x86-64 only, in
// gemm_avx2.cpp and gemm_avx512.cpp.
using GemmTable = std::array<GemmKernel, size_t(DType::count_)>;
const GemmTable& gemms_avx2(Layout layout);
const GemmTable& gemms_avx512(Layout layout);

inline GemmKernel gemm_kernel([[maybe_unused]] DType t, [[maybe_unused]] Layout layout, Isa isa) {
    switch (isa) {
#if defined(__x86_64__)
    case Isa::avx2: return gemms_avx2(layout)[size_t(t)];
    case Isa::avx512: return gemms_avx512(layout)[size_t(t)];
#endif
    default: return {};
    }
}

// kernels::matmul through a chosen GEMM, whatever T (tests run every shape through it); matmul.cpp.
void matmul_by_gemm(const GemmKernel& gemm, const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool);
void matmul_by_gemm(const GemmKernel& gemm, std::span<const MatmulOut> outs, const float* x, int64_t T, ThreadPool* pool);

}  // namespace slm::kernels
