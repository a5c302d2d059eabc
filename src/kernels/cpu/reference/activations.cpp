// Reference elementwise ops: SiLU-gated product (SwiGLU's inner step) and the row softmax.
#include <slm/kernels.h>

#include <cmath>

namespace slm::kernels::ref {

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) {
        const double g = gate[i];
        out[i] = float(g / (1.0 + std::exp(-g)) * double(up[i]));
    }
}

void softmax(float* x, int64_t T, int64_t n) {
    for (int64_t t = 0; t < T; ++t) {
        float* row = x + t * n;
        double max_v = -INFINITY;
        for (int64_t i = 0; i < n; ++i) max_v = std::max(max_v, double(row[i]));
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += std::exp(double(row[i]) - max_v);
        for (int64_t i = 0; i < n; ++i) row[i] = float(std::exp(double(row[i]) - max_v) / sum);
    }
}

}  // namespace slm::kernels::ref
