// Row dot products: one weight row (of its dtype) with R <= kMaxDotRows activation rows (in the
// weight type's ActFormat), the inner loop of every matmul. Tokens are processed R at a time so
// that each weight block is unpacked once for R tokens; the accumulation order for one token
// does not depend on R, so prompt and decode compute identical values.
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

constexpr int kMaxDotRows = 4;

// out[r] = w . x_r for r < R, x_r at x + r * x_stride bytes; K elements.
using RowDotFn = void (*)(int64_t K, const void* w, const void* x, size_t x_stride, int R, float* out);

// A tile of weight rows x tokens: out[m * R + r] = w_m . x_r for m < M, r < R, where the kernel
// chooses M <= rows (w_m at w + m * w_stride bytes) and returns it. Each value equals the row
// dot's for the same row and token, bit for bit, whatever the tile: a sequence decodes to the
// same tokens alone or batched with others. Where a row dot is bound by loads rather than by
// multiply-adds (float weights: one activation load per multiply-add), a tile loads each
// activation vector once for M rows.
using RowTileFn = int (*)(int64_t K, const void* w, size_t w_stride, int64_t rows, const void* x, size_t x_stride,
                          int R, float* out);
constexpr int kMaxTileRows = 3;

struct RowDot {
    ActFormat act = ActFormat::f32;
    RowDotFn fn = nullptr;      // nullptr: no kernel for this weight type at this level
    RowTileFn tile = nullptr;   // optional; matmul then goes through tiles
};

// One instruction-set level's row dots, indexed by weight DType.
using RowDotTable = std::array<RowDot, size_t(DType::count_)>;

// The per-level tables, defined in row_dot_<isa>.cpp (the AVX2 one is all empty off x86-64).
const RowDotTable& row_dots_portable();
const RowDotTable& row_dots_avx2();

// The row dot for weights of `t` at `isa`, or nullptr when that pair has no kernel. The avx512
// level takes AVX2's: its GEMM serves decode too wherever the interleaved layout applies.
inline const RowDot* row_dot(DType t, Isa isa) {
    const RowDot& entry = (isa >= Isa::avx2 ? row_dots_avx2() : row_dots_portable())[size_t(t)];
    return entry.fn != nullptr ? &entry : nullptr;
}

// kernels::matmul with a chosen row dot (tests run every level through it); matmul.cpp.
void matmul_with(const RowDot& kernel, const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool);
void matmul_with(const RowDot& kernel, std::span<const MatmulOut> outs, const float* x, int64_t T, ThreadPool* pool);

}  // namespace slm::kernels

