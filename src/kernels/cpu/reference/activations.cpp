// Reference elementwise ops in double: the gated products of SwiGLU and GeGLU (tanh-approximated and
// exact GELU), the ungated GELUs, soft-capping and the row softmax.
#include <slm/kernels.h>

#include <cmath>
#include <numbers>

namespace slm::kernels::ref {

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) {
        const double g = gate[i];
        out[i] = float(g / (1.0 + std::exp(-g)) * double(up[i]));
    }
}

void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out) {
    const double k = std::sqrt(2.0 / std::numbers::pi);
    for (int64_t i = 0; i < n; ++i) {
        const double g = gate[i];
        out[i] = float(0.5 * g * (1.0 + std::tanh(k * (g + 0.044715 * g * g * g))) * double(up[i]));
    }
}

void gelu_mul(const float* gate, const float* up, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) {
        const double g = gate[i];
        out[i] = float(0.5 * g * (1.0 + std::erf(g / std::numbers::sqrt2)) * double(up[i]));
    }
}

void gelu(const float* x, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) {
        const double v = x[i];
        out[i] = float(0.5 * v * (1.0 + std::erf(v / std::numbers::sqrt2)));
    }
}

void gelu_tanh(const float* x, int64_t n, float* out) {
    const double k = std::sqrt(2.0 / std::numbers::pi);
    for (int64_t i = 0; i < n; ++i) {
        const double v = x[i];
        out[i] = float(0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))));
    }
}

void softcap(float* x, int64_t n, float cap) {
    for (int64_t i = 0; i < n; ++i) x[i] = float(double(cap) * std::tanh(double(x[i]) / double(cap)));
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
