// Row dot products: one weight row (of its dtype) with R <= kMaxDotRows activation rows (in the
// weight type's ActFormat), the inner loop of every matmul. Tokens are processed R at a time so
// that each weight block is unpacked once for R tokens; the accumulation order for one token
// does not depend on R, so prompt and decode compute identical values.
#pragma once

#include "kernels/cpu/activation_blocks.h"
#include "kernels/cpu/isa.h"

#include <slm/dtype.h>
#include <slm/tensor.h>
#include <slm/thread_pool.h>

#include <cstddef>
#include <cstdint>

namespace slm::kernels {

constexpr int kMaxDotRows = 4;

// out[r] = w . x_r for r < R, x_r at x + r * x_stride bytes; K elements.
using RowDotFn = void (*)(int64_t K, const void* w, const void* x, size_t x_stride, int R, float* out);

struct RowDot {
    ActFormat act;
    RowDotFn fn;
};

// The row dot for weights of `t` at `isa`, or nullptr when that pair has no kernel.
const RowDot* row_dot(DType t, Isa isa);

// The per-level tables, defined in row_dot_<isa>.cpp.
const RowDot* row_dot_portable(DType t);
const RowDot* row_dot_avx2(DType t);

// kernels::matmul with a chosen row dot (tests run every level through it); matmul.cpp.
void matmul_with(const RowDot& kernel, const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool);

}  // namespace slm::kernels

