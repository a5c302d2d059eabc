// Reference embedding lookup: the selected rows of a table of any dtype, converted to f32.
#include <slm/kernels.h>

#include "kernels/cpu/reference/row_to_float.h"

namespace slm::kernels::ref {

void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out) {
    const ToFloatFn to_float = detail::to_float_or_throw(E.dtype, "get_rows");
    if (E.layout != Layout::rows) fail("kernels::get_rows: the table's rows are interleaved (a matmul-only layout)");
    const int64_t V = E.rows(), D = E.row_length();
    for (int64_t t = 0; t < T; ++t) {
        if (ids[t] < 0 || ids[t] >= V) fail("kernels::get_rows: token id {} outside the table of {} rows", ids[t], V);
        to_float(E.row(ids[t]), out + t * D, D);
    }
}

}  // namespace slm::kernels::ref
