// Reference quantize -> dequantize error bounds, per type, on random data.
#include <slm/dtype.h>

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace slm;

namespace {
struct Bound { DType type; double max_rel_rmse; };
// Relative RMSE (rmse / rms of the input) on Gaussian data: what each format's bit budget allows.
constexpr Bound kBounds[] = {
    {DType::f16, 1e-3}, {DType::bf16, 5e-3}, {DType::q8_0, 0.01}, {DType::q4_0, 0.15},
};
}  // namespace

TEST(QuantRoundTrip, ErrorWithinBoundForEachType) {
    std::mt19937 rng(42);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    const int64_t n = 4096;
    std::vector<float> x(n), y(n);
    for (auto& v : x) v = dist(rng);
    for (const auto& b : kBounds) {
        const auto& t = traits(b.type);
        ASSERT_NE(t.from_float, nullptr) << t.name;
        std::vector<uint8_t> q(row_bytes(b.type, n));
        t.from_float(x.data(), q.data(), n);
        t.to_float(q.data(), y.data(), n);
        double err = 0, ref = 0;
        for (int64_t i = 0; i < n; ++i) {
            err += (x[i] - y[i]) * (x[i] - y[i]);
            ref += x[i] * x[i];
        }
        EXPECT_LT(std::sqrt(err / ref), b.max_rel_rmse) << t.name;
    }
}

TEST(QuantRoundTrip, ZeroBlockStaysZero) {
    std::vector<float> x(256, 0.0f), y(256, 1.0f);
    for (DType type : {DType::q8_0, DType::q4_0}) {
        const auto& t = traits(type);
        std::vector<uint8_t> q(row_bytes(type, 256));
        t.from_float(x.data(), q.data(), 256);
        t.to_float(q.data(), y.data(), 256);
        for (float v : y) ASSERT_EQ(v, 0.0f) << t.name;
    }
}
