// Reference backward of the row-wise and elementwise forward ops: the input gradient of a matmul
// through a frozen weight of any dtype, RMS norm, rotary embedding and the SiLU-gated product.
// Sums in double; each is the derivative of its forward reference (checked against finite
// differences in tests/kernels/backward_test.cpp).
#include <slm/train_ops.h>

#include "kernels/cpu/reference/row_to_float.h"

#include <cmath>
#include <vector>

namespace slm::kernels::ref {

void matmul_backward_input(const Tensor& W, const float* dy, int64_t T, float* dx, bool accumulate) {
    detail::WeightRows rows(W, "matmul_backward_input");
    const int64_t N = W.rows(), K = W.row_length();
    std::vector<double> sum(size_t(T * K), 0.0);
    std::vector<float> row(static_cast<size_t>(K));
    for (int64_t n = 0; n < N; ++n) {
        rows.to_float(n, row.data());
        for (int64_t t = 0; t < T; ++t) {
            const double g = dy[t * N + n];
            for (int64_t k = 0; k < K; ++k) sum[size_t(t * K + k)] += g * double(row[size_t(k)]);
        }
    }
    for (int64_t i = 0; i < T * K; ++i) dx[i] = float(sum[size_t(i)] + (accumulate ? double(dx[i]) : 0.0));
}

// y_i = x_i r w_i with r = (mean(x^2) + eps)^-1/2, so
//   dx_i = r w_i dy_i - x_i r^3 / D * sum_j w_j dy_j x_j,   dw_i = sum_t dy_i x_i r.
void rms_norm_backward(const float* x, const float* w, const float* dy, int64_t T, int64_t D, float eps, float* dx,
                       float* dw) {
    std::vector<double> dw_sum(static_cast<size_t>(D), 0.0);
    for (int64_t t = 0; t < T; ++t) {
        const float* xt = x + t * D;
        const float* gt = dy + t * D;
        double sum_sq = 0, dot = 0;
        for (int64_t i = 0; i < D; ++i) {
            sum_sq += double(xt[i]) * double(xt[i]);
            dot += double(w[i]) * double(gt[i]) * double(xt[i]);
        }
        const double r = 1.0 / std::sqrt(sum_sq / double(D) + double(eps));
        const double c = r * r * r / double(D) * dot;
        for (int64_t i = 0; i < D; ++i) {
            dx[t * D + i] = float(r * double(w[i]) * double(gt[i]) - double(xt[i]) * c);
            dw_sum[size_t(i)] += double(gt[i]) * double(xt[i]) * r;
        }
    }
    if (dw != nullptr)
        for (int64_t i = 0; i < D; ++i) dw[i] = float(double(dw[i]) + dw_sum[size_t(i)]);
}

// The forward rotates each pair by [c -s; s c] (times mscale); its transpose [c s; -s c] is the
// rotation by the opposite angle, which is rope with -inv_freq.
void rope_backward(float* dx, int64_t T, int64_t H, int64_t Dh, const int32_t* positions, const float* inv_freq,
                   float mscale, RopeMode mode) {
    std::vector<float> negated(static_cast<size_t>(Dh / 2));
    for (int64_t i = 0; i < Dh / 2; ++i) negated[size_t(i)] = -inv_freq[i];
    rope(dx, T, H, Dh, positions, negated.data(), mscale, mode);
}

// out = g s(g) u with s the logistic function: d/dg = u s (1 + g (1 - s)), d/du = g s.
void silu_mul_backward(const float* gate, const float* up, const float* dout, int64_t n, float* dgate, float* dup) {
    for (int64_t i = 0; i < n; ++i) {
        const double g = gate[i], u = up[i], d = dout[i];
        const double s = 1.0 / (1.0 + std::exp(-g));
        dup[i] = float(d * g * s);
        dgate[i] = float(d * u * s * (1.0 + g * (1.0 - s)));
    }
}

}  // namespace slm::kernels::ref
