// Benchmark inputs: weight matrices of any dtype filled with random values, and a "model" of
// many distinct matrices that together exceed the last-level cache, so that a decode benchmark
// streams weights from memory as a real forward pass does.
#pragma once

#include <slm/dtype.h>
#include <slm/tensor.h>

#include <cstdint>
#include <random>
#include <vector>

namespace slm::bench {

inline std::vector<float> random_floats(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// `copies` matrices [N, K] of `dtype`; quantizing is slow, so one is made and copied.
inline std::vector<OwnedTensor> random_matrices(DType dtype, int64_t N, int64_t K, int copies) {
    OwnedTensor first = OwnedTensor::zeros(dtype, {N, K});
    const std::vector<float> row = random_floats(size_t(K) * 16, 1);
    for (int64_t n = 0; n < N; ++n) traits(dtype).from_float(row.data() + (n % 16) * K, first.tensor.row(n), K);
    std::vector<OwnedTensor> all;
    for (int i = 0; i < copies; ++i) {
        OwnedTensor t = OwnedTensor::zeros(dtype, {N, K});
        std::copy(first.buffer.data(), first.buffer.data() + first.tensor.nbytes(), t.buffer.data());
        all.push_back(std::move(t));
    }
    return all;
}

// How many copies of an [N, K] dtype matrix make at least `bytes` in total.
inline int copies_for(DType dtype, int64_t N, int64_t K, size_t bytes) {
    const size_t one = row_bytes(dtype, K) * size_t(N);
    return int(std::max<size_t>(1, (bytes + one - 1) / one));
}

}  // namespace slm::bench
