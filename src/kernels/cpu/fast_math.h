// Small float helpers written so that GCC vectorizes them (eight independent lanes, no
// branches): exp by range reduction and a degree-6 polynomial, tanh and erf from it, dot product. Internal
// linkage, since translation units built for different targets include this header.
#pragma once

#include <bit>
#include <cstdint>

namespace slm::kernels {
namespace {

// e^x with relative error below 2e-7 for x in [-87, 88]; smaller x gives 0, larger +inf-ish.
inline float fast_exp(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float n = __builtin_floorf(x * 1.44269504089f + 0.5f);  // x = n ln2 + r, |r| <= ln2/2
    const float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const uint32_t scale_bits = uint32_t(int32_t(n) + 127) << 23;
    return p * std::bit_cast<float>(scale_bits);
}

// tanh x = 1 - 2 / (e^(2x) + 1): absolute error below 2e-7 (fast_exp's, then the rounding of a
// value near 1), exactly +-1 past |x| ~ 9.
inline float fast_tanh(float x) { return 1.0f - 2.0f / (fast_exp(2.0f * x) + 1.0f); }

// erf x by Abramowitz and Stegun's 7.1.26: 1 - (a1 t + ... + a5 t^5) e^(-x^2), t = 1 / (1 + p|x|),
// sign restored after; absolute error below 5e-7 (the formula's 1.5e-7 plus fast_exp's and rounding). The exact
// GELU of BERT's feed-forward calls it once per hidden unit, where libm's erf cost as much as the
// matmul feeding it.
inline float fast_erf(float x) {
    const float a = x < 0 ? -x : x;
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    const float y = 1.0f - p * t * fast_exp(-a * a);
    return x < 0 ? -y : y;
}

inline float dot_f32(const float* a, const float* b, int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
    float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

}  // namespace
}  // namespace slm::kernels
