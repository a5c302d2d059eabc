// The vectorizable helpers the fast kernels are built on, checked against libm.
#include "kernels/cpu/fast_math.h"

#include <gtest/gtest.h>

#include <cmath>

namespace slm::kernels {
namespace {

TEST(FastMath, ExpIsWithinTwoUlpsOverTheUsefulRange) {
    double worst = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.01731f) {
        const double want = std::exp(double(x));
        worst = std::max(worst, std::fabs(double(fast_exp(x)) - want) / want);
    }
    EXPECT_LT(worst, 3e-7);
    EXPECT_EQ(fast_exp(-1000.0f) < 1e-37f, true);  // clamps instead of producing garbage
}

TEST(FastMath, ErfIsWithinHalfAMillionthEverywhere) {
    double worst = 0;
    for (float x = -12.0f; x <= 12.0f; x += 0.00731f) worst = std::max(worst, std::fabs(double(fast_erf(x)) - std::erf(double(x))));
    EXPECT_LT(worst, 5e-7);
    EXPECT_NEAR(fast_erf(0.0f), 0.0f, 5e-7);
    EXPECT_EQ(fast_erf(100.0f), 1.0f);
    EXPECT_EQ(fast_erf(-100.0f), -1.0f);
}

TEST(FastMath, DotMatchesAPlainLoop) {
    float a[37], b[37];
    double want = 0;
    for (int i = 0; i < 37; ++i) a[i] = float(i) * 0.5f - 3.0f, b[i] = float(i % 7) - 2.0f, want += double(a[i]) * b[i];
    EXPECT_NEAR(dot_f32(a, b, 37), want, 1e-4);
}

}  // namespace
}  // namespace slm::kernels
