// Fast row-wise and elementwise ops: rms_norm, layer_norm, silu_mul, gelu_tanh_mul, gelu_mul, gelu,
// gelu_tanh, softcap, softmax, add, add_bias, multiply. f32 throughout
// with eight-lane partial sums and a polynomial exp and erf (fast_math.h), split over the pool by
// rows or element ranges; results agree with the double-precision references to ~1e-6 relative.
#include <slm/kernels.h>

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <cmath>

namespace slm::kernels {
namespace {

void rms_norm_row(const float* x, const float* w, int64_t D, float eps, float* out) {
    const float inv_rms = 1.0f / std::sqrt(dot_f32(x, x, D) / float(D) + eps);
    for (int64_t i = 0; i < D; ++i) out[i] = x[i] * inv_rms * w[i];
}

// Two passes (mean, then the sum of squared deviations) rather than E[x^2] - mean^2, which loses
// the variance to cancellation when a row's mean is large against its spread.
void layer_norm_row(const float* x, const float* w, const float* b, int64_t D, float eps, float* out) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= D; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += x[i + l];
    float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < D; ++i) sum += x[i];
    const float mean = sum / float(D);
    for (float& a : acc) a = 0;
    for (i = 0; i + 8 <= D; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += (x[i + l] - mean) * (x[i + l] - mean);
    float sum_sq = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < D; ++i) sum_sq += (x[i] - mean) * (x[i] - mean);
    const float inv_std = 1.0f / std::sqrt(sum_sq / float(D) + eps);
    if (w != nullptr && b != nullptr)
        for (i = 0; i < D; ++i) out[i] = (x[i] - mean) * inv_std * w[i] + b[i];
    else if (w != nullptr)
        for (i = 0; i < D; ++i) out[i] = (x[i] - mean) * inv_std * w[i];
    else if (b != nullptr)
        for (i = 0; i < D; ++i) out[i] = (x[i] - mean) * inv_std + b[i];
    else
        for (i = 0; i < D; ++i) out[i] = (x[i] - mean) * inv_std;
}

void softmax_row(float* x, int64_t n) {
    float max_lanes[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) max_lanes[l] = std::max(max_lanes[l], x[i + l]);
    float max_v = *std::max_element(max_lanes, max_lanes + 8);
    for (; i < n; ++i) max_v = std::max(max_v, x[i]);
    float sum_lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (i = 0; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) sum_lanes[l] += (x[i + l] = fast_exp(x[i + l] - max_v));
    float sum = 0;
    for (float s : sum_lanes) sum += s;
    for (; i < n; ++i) sum += (x[i] = fast_exp(x[i] - max_v));
    const float inv = 1.0f / sum;
    for (i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace

void rms_norm(const float* x, const float* w, int64_t T, int64_t D, float eps, float* out, ThreadPool* pool) {
    parallel_rows(pool, T, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) rms_norm_row(x + t * D, w, D, eps, out + t * D);
    }, min_rows_per_chunk(D));
}

void layer_norm(const float* x, const float* w, const float* b, int64_t T, int64_t D, float eps, float* out,
                ThreadPool* pool) {
    parallel_rows(pool, T, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) layer_norm_row(x + t * D, w, b, D, eps, out + t * D);
    }, min_rows_per_chunk(D));
}

void silu_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool) {
    parallel_rows(pool, n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) out[i] = gate[i] / (1.0f + fast_exp(-gate[i])) * up[i];
    }, kMinElementsPerChunk);
}

void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    parallel_rows(pool, n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const float g = gate[i];
            out[i] = 0.5f * g * (1.0f + fast_tanh(kSqrt2OverPi * (g + 0.044715f * g * g * g))) * up[i];
        }
    }, kMinElementsPerChunk);
}

void gelu_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool) {
    constexpr float kInvSqrt2 = 0.7071067811865476f;
    parallel_rows(pool, n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) out[i] = 0.5f * gate[i] * (1.0f + std::erf(gate[i] * kInvSqrt2)) * up[i];
    }, kMinElementsPerChunk);
}

void gelu(const float* x, int64_t n, float* out, ThreadPool* pool) {
    constexpr float kInvSqrt2 = 0.7071067811865476f;
    parallel_rows(pool, n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) out[i] = 0.5f * x[i] * (1.0f + fast_erf(x[i] * kInvSqrt2));
    }, kMinElementsPerChunk);
}

void gelu_tanh(const float* x, int64_t n, float* out, ThreadPool* pool) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    parallel_rows(pool, n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const float v = x[i];
            out[i] = 0.5f * v * (1.0f + fast_tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
        }
    }, kMinElementsPerChunk);
}

void softcap(float* x, int64_t n, float cap, ThreadPool* pool) {
    const float inv_cap = 1.0f / cap;
    parallel_rows(pool, n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) x[i] = cap * fast_tanh(x[i] * inv_cap);
    }, kMinElementsPerChunk);
}

void multiply(float* x, int64_t n, float s) {
    for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void softmax(float* x, int64_t T, int64_t n) {
    for (int64_t t = 0; t < T; ++t) softmax_row(x + t * n, n);
}

void add(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void add_bias(float* y, const float* b, int64_t T, int64_t D) {
    for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < D; ++i) y[t * D + i] += b[i];
}

}  // namespace slm::kernels
