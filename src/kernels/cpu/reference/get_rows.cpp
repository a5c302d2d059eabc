// Reference embedding lookup: the selected rows of a table of any dtype, converted to f32.
#include <slm/kernels.h>

#include "kernels/cpu/interleaved_rows.h"
#include "kernels/cpu/reference/row_to_float.h"

#include <vector>

namespace slm::kernels::ref {

void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out) {
    const ToFloatFn to_float = detail::to_float_or_throw(E.dtype, "get_rows");
    const int64_t V = E.rows(), D = E.row_length();
    // A table the output matmul shares (tied embeddings) may be interleaved: its rows come back
    // out of their group first.
    std::vector<uint8_t> blocks(E.layout == Layout::rows ? 0 : E.row_bytes());
    for (int64_t t = 0; t < T; ++t) {
        if (ids[t] < 0 || ids[t] >= V) fail("kernels::get_rows: token id {} outside the table of {} rows", ids[t], V);
        if (E.layout == Layout::rows) {
            to_float(E.row(ids[t]), out + t * D, D);
        } else {
            interleaved_row(E, ids[t], blocks.data());
            to_float(blocks.data(), out + t * D, D);
        }
    }
}

}  // namespace slm::kernels::ref
