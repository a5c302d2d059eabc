// Converting one weight row of any dtype to f32 through the DType table: the common first step of
// every reference op that reads weights or a KV cache.
#pragma once

#include "kernels/cpu/interleaved_rows.h"

#include <slm/dtype.h>
#include <slm/error.h>
#include <slm/tensor.h>

#include <cstdint>
#include <vector>

namespace slm::kernels::detail {

// The table's to_float for `t`, or an Error naming the type and the op that needed it.
inline ToFloatFn to_float_or_throw(DType t, const char* op) {
    const ToFloatFn fn = traits(t).to_float;
    if (fn == nullptr) fail("kernels::{}: no conversion to f32 for dtype {}", op, name(t));
    return fn;
}

// Rows of a weight matrix in either layout, converted to f32: an interleaved8 row is first taken
// back out of its group into the file's blocks.
class WeightRows {
public:
    WeightRows(const Tensor& W, const char* op)
        : W_(W), to_float_(to_float_or_throw(W.dtype, op)), blocks_(W.layout == Layout::rows ? 0 : W.row_bytes()) {}
    // out[0, row_length) = row n.
    void to_float(int64_t n, float* out) {
        const void* row = W_.row(n);
        if (W_.layout != Layout::rows) {
            interleaved_row(W_, n, blocks_.data());
            row = blocks_.data();
        }
        to_float_(row, out, W_.row_length());
    }

private:
    const Tensor& W_;
    ToFloatFn to_float_;
    std::vector<uint8_t> blocks_;  // one row's blocks, for the interleaved layout
};

}  // namespace slm::kernels::detail
