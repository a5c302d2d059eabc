// Converting one weight row of any dtype to f32 through the DType table: the common first step of
// every reference op that reads weights or a KV cache.
#pragma once

#include <slm/dtype.h>
#include <slm/error.h>

namespace slm::kernels::detail {

// The table's to_float for `t`, or an Error naming the type and the op that needed it.
inline ToFloatFn to_float_or_throw(DType t, const char* op) {
    const ToFloatFn fn = traits(t).to_float;
    if (fn == nullptr) fail("kernels::{}: no conversion to f32 for dtype {}", op, name(t));
    return fn;
}

}  // namespace slm::kernels::detail
