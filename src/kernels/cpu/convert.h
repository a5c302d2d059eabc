// Row conversions to f32 used inside kernels (KV cache reads), dispatched to F16C where the CPU
// has it.
#pragma once

#include <slm/dtype.h>

#include <cstdint>

namespace slm::kernels {

// dst[i] = src[i] as f32, for f32 or f16 source rows of n elements.
void cache_row_to_f32(DType dtype, const void* src, float* dst, int64_t n);

}  // namespace slm::kernels
