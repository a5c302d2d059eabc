// The two passes every softmax over a long row starts with, written so that GCC vectorizes them
// (eight independent lanes): the row's max, and the exponentials of the shifted row with their
// sum. Cross-entropy and the distillation loss share them, so that their CE values agree exactly.
#pragma once

#include "kernels/cpu/fast_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace slm::kernels {
namespace {

inline float row_max(const float* x, int64_t n) {
    float lanes[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) lanes[l] = std::max(lanes[l], x[i + l]);
    float max_v = *std::max_element(lanes, lanes + 8);
    for (; i < n; ++i) max_v = std::max(max_v, x[i]);
    return max_v;
}

// out[i] = e^((x[i] - shift) * scale) (out may be x); returns their sum. Partial sums per lane,
// then in double: a row reaches 152k terms.
inline double exp_sum(const float* x, int64_t n, float shift, float scale, float* out) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) lanes[l] += (out[i + l] = fast_exp((x[i + l] - shift) * scale));
    double sum = 0;
    for (float s : lanes) sum += double(s);
    for (; i < n; ++i) sum += double(out[i] = fast_exp((x[i] - shift) * scale));
    return sum;
}

}  // namespace
}  // namespace slm::kernels
