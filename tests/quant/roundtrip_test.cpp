// Reference quantize -> dequantize error bounds, per type, on random data and edge-case blocks.
#include <slm/dtype.h>

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace slm;

namespace {
struct Bound { DType type; double max_rel_rmse; };
// Relative RMSE (rmse / rms of the input) on Gaussian data: what each format's bit budget allows.
// Measured values (seed 42, 4096 values) are about 0.77x these bounds: q8_0 0.0054, q6_k 0.0178,
// q5_k 0.0359, q4_k 0.0709, q4_0 0.0873, nf4 0.0914, q3_k 0.153, q2_k 0.301.
constexpr Bound kBounds[] = {
    {DType::f16, 1e-3},   {DType::bf16, 5e-3},  {DType::q8_0, 0.007}, {DType::q8_1, 0.007},
    {DType::q8_k, 0.009}, {DType::q6_k, 0.023}, {DType::q5_1, 0.05},  {DType::q5_0, 0.057},
    {DType::q5_k, 0.047}, {DType::q4_1, 0.10},  {DType::q4_0, 0.115}, {DType::q4_k, 0.092},
    {DType::nf4, 0.12},   {DType::iq4_nl, 0.11}, {DType::q3_k, 0.20}, {DType::q2_k, 0.39},
};

double relative_rmse(DType type, const std::vector<float>& x) {
    const auto& t = traits(type);
    const auto n = int64_t(x.size());
    std::vector<uint8_t> q(row_bytes(type, n));
    std::vector<float> y(x.size());
    t.from_float(x.data(), q.data(), n);
    t.to_float(q.data(), y.data(), n);
    double err = 0, ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        err += double(x[i] - y[i]) * double(x[i] - y[i]);
        ref += double(x[i]) * double(x[i]);
    }
    return std::sqrt(err / ref);
}
}  // namespace

TEST(QuantRoundTrip, ErrorWithinBoundForEachType) {
    std::mt19937 rng(42);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(4096);
    for (auto& v : x) v = dist(rng);
    for (const auto& b : kBounds) {
        ASSERT_NE(traits(b.type).from_float, nullptr) << name(b.type);
        ASSERT_NE(traits(b.type).to_float, nullptr) << name(b.type);
        EXPECT_LT(relative_rmse(b.type, x), b.max_rel_rmse) << name(b.type);
    }
}

TEST(QuantRoundTrip, EveryQuantizedTypeHasBothConversions) {
    for (size_t i = 0; i < size_t(DType::count_); ++i) {
        const auto type = DType(i);
        if (!is_quantized(type)) continue;
        EXPECT_NE(traits(type).to_float, nullptr) << name(type);
        EXPECT_NE(traits(type).from_float, nullptr) << name(type);
    }
}

TEST(QuantRoundTrip, ZeroBlockStaysZero) {
    std::vector<float> x(256, 0.0f), y(256, 1.0f);
    for (const auto& b : kBounds) {
        const auto& t = traits(b.type);
        std::vector<uint8_t> q(row_bytes(b.type, 256));
        t.from_float(x.data(), q.data(), 256);
        t.to_float(q.data(), y.data(), 256);
        for (float v : y) ASSERT_EQ(v, 0.0f) << t.name;
    }
}

// A block with one large outlier among small values still reproduces the outlier closely
// (every format maps its block's extreme to (nearly) a level exactly).
TEST(QuantRoundTrip, OutlierIsKeptWithinFivePercent) {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 0.01f);
    std::vector<float> x(256), y(256);
    for (auto& v : x) v = dist(rng);
    x[37] = 3.0f;
    for (const auto& b : kBounds) {
        const auto& t = traits(b.type);
        std::vector<uint8_t> q(row_bytes(b.type, 256));
        t.from_float(x.data(), q.data(), 256);
        t.to_float(q.data(), y.data(), 256);
        EXPECT_NEAR(y[37], 3.0f, 0.15f) << t.name;
    }
}

TEST(QuantRoundTrip, ConstantRowsAreNearlyExact) {
    for (float c : {0.5f, -0.25f}) {
        std::vector<float> x(256, c), y(256);
        for (const auto& b : kBounds) {
            const auto& t = traits(b.type);
            std::vector<uint8_t> q(row_bytes(b.type, 256));
            t.from_float(x.data(), q.data(), 256);
            t.to_float(q.data(), y.data(), 256);
            for (float v : y) ASSERT_NEAR(v, c, std::fabs(c) * 0.02f) << t.name << " c=" << c;
        }
    }
}
