// Reference matmul: each weight row converted to f32 by the DType table, dot products summed in
// double. It defines what every fast matmul must compute.
#include <slm/kernels.h>

#include "kernels/cpu/interleaved_rows.h"
#include "kernels/cpu/reference/row_to_float.h"

#include <vector>

namespace slm::kernels::ref {

void matmul(const Tensor& W, const float* x, int64_t T, float* y) {
    const ToFloatFn to_float = detail::to_float_or_throw(W.dtype, "matmul");
    const int64_t N = W.rows(), K = W.row_length();
    std::vector<float> row(static_cast<size_t>(K));
    std::vector<uint8_t> blocks(W.layout == Layout::rows ? 0 : W.row_bytes());
    for (int64_t n = 0; n < N; ++n) {
        if (W.layout == Layout::rows) {
            to_float(W.row(n), row.data(), K);
        } else {
            interleaved_row(W, n, blocks.data());
            to_float(blocks.data(), row.data(), K);
        }
        for (int64_t t = 0; t < T; ++t) {
            const float* xt = x + t * K;
            double sum = 0;
            for (int64_t k = 0; k < K; ++k) sum += double(row[size_t(k)]) * double(xt[k]);
            y[t * N + n] = float(sum);
        }
    }
}

}  // namespace slm::kernels::ref
