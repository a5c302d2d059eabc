// Test data for the kernel tests: seeded random activations and weight tensors of any dtype
// (quantized from random floats by the DType table), plus the error measure the tests use.
#pragma once

#include <slm/dtype.h>
#include <slm/tensor.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace slm::kernels::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// A [rows, cols] tensor of `dtype` holding random values quantized by the table's from_float.
inline OwnedTensor random_weights(DType dtype, int64_t rows, int64_t cols, uint32_t seed) {
    OwnedTensor w = OwnedTensor::zeros(dtype, {rows, cols});
    const std::vector<float> values = random_floats(size_t(rows * cols), seed);
    for (int64_t r = 0; r < rows; ++r) traits(dtype).from_float(values.data() + r * cols, w.tensor.row(r), cols);
    return w;
}

// max |a - b| / max(max |b|, tiny): error relative to the reference's magnitude.
inline double relative_max_error(const std::vector<float>& a, const std::vector<float>& b) {
    double max_diff = 0, max_ref = 1e-30;
    for (size_t i = 0; i < a.size(); ++i) {
        max_diff = std::max(max_diff, std::fabs(double(a[i]) - double(b[i])));
        max_ref = std::max(max_ref, std::fabs(double(b[i])));
    }
    return max_diff / max_ref;
}

}  // namespace slm::kernels::test
