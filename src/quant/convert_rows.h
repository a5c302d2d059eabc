// Converting a matrix between element types row by row (dequantize to f32, quantize to the target)
// with the rows shared out over the thread pool: what quantize and requantize do per tensor.
#pragma once

#include <slm/dtype.h>
#include <slm/thread_pool.h>

#include <cstdint>

namespace slm::quant {

// Converts `rows` rows of `row_length` elements from `from` at `src` to `to` at `dst`. Both types
// need reference conversions (DTypeTraits::to_float / from_float), and row_length must be a
// multiple of both block sizes. The result does not depend on the number of threads.
void convert_rows(DType from, const void* src, DType to, void* dst, int64_t rows, int64_t row_length, ThreadPool& pool);

}  // namespace slm::quant
