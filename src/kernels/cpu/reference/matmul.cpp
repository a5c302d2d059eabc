// Reference matmul: each weight row converted to f32 by the DType table, dot products summed in
// double. It defines what every fast matmul must compute.
#include <slm/kernels.h>

#include "kernels/cpu/reference/row_to_float.h"

#include <vector>

namespace slm::kernels::ref {

void matmul(const Tensor& W, const float* x, int64_t T, float* y) {
    detail::WeightRows rows(W, "matmul");
    const int64_t N = W.rows(), K = W.row_length();
    std::vector<float> row(static_cast<size_t>(K));
    for (int64_t n = 0; n < N; ++n) {
        rows.to_float(n, row.data());
        for (int64_t t = 0; t < T; ++t) {
            const float* xt = x + t * K;
            double sum = 0;
            for (int64_t k = 0; k < K; ++k) sum += double(row[size_t(k)]) * double(xt[k]);
            y[t * N + n] = float(sum);
        }
    }
}

}  // namespace slm::kernels::ref
