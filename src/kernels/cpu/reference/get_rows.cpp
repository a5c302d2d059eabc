// Reference embedding lookup: the selected rows of a table of any dtype, converted to f32.
#include <slm/kernels.h>

#include "kernels/cpu/reference/row_to_float.h"

namespace slm::kernels::ref {

void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out) {
    // A table the output matmul shares (tied embeddings) may be interleaved: WeightRows reads either.
    detail::WeightRows rows(E, "get_rows");
    const int64_t V = E.rows(), D = E.row_length();
    for (int64_t t = 0; t < T; ++t) {
        if (ids[t] < 0 || ids[t] >= V) fail("kernels::get_rows: token id {} outside the table of {} rows", ids[t], V);
        rows.to_float(ids[t], out + t * D);
    }
}

}  // namespace slm::kernels::ref
