// The scalar references checked against values worked out by hand, so that the fast kernels'
// comparisons with them rest on a known truth.
#include <slm/error.h>
#include <slm/half.h>
#include <slm/kernels.h>

#include "kernels/random_data.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

namespace slm::kernels {
namespace {

TEST(KernelsReference, MatmulOfSmallF32MatrixMatchesHandResult) {
    // W = [[1, 2, 3], [4, 5, 6]], x = [[1, 0, -1], [2, 1, 0]]
    std::vector<float> w = {1, 2, 3, 4, 5, 6}, x = {1, 0, -1, 2, 1, 0}, y(4);
    Tensor W{DType::f32, {2, 3}, w.data()};
    ref::matmul(W, x.data(), 2, y.data());
    EXPECT_EQ(y, (std::vector<float>{-2, -2, 4, 13}));
}

TEST(KernelsReference, MatmulReadsQuantizedRowsThroughTheTable) {
    OwnedTensor W = test::random_weights(DType::q8_0, 3, 64, 1);
    std::vector<float> x = test::random_floats(64, 2), y(3), row(64);
    ref::matmul(W.tensor, x.data(), 1, y.data());
    for (int n = 0; n < 3; ++n) {
        traits(DType::q8_0).to_float(W.tensor.row(n), row.data(), 64);
        EXPECT_NEAR(y[size_t(n)], std::inner_product(row.begin(), row.end(), x.begin(), 0.0), 1e-4);
    }
}

TEST(KernelsReference, MatmulRejectsDtypeWithoutConversion) {
    std::vector<int32_t> w(4);
    Tensor W{DType::i32, {2, 2}, w.data()};
    float x[2] = {1, 1}, y[2];
    EXPECT_THROW(ref::matmul(W, x, 1, y), Error);
}

TEST(KernelsReference, GetRowsConvertsF16AndRejectsBadId) {
    std::vector<uint16_t> e = {f32_to_f16(1.5f), f32_to_f16(-2.0f), f32_to_f16(0.25f), f32_to_f16(8.0f)};
    Tensor E{DType::f16, {2, 2}, e.data()};
    int32_t ids[3] = {1, 0, 1};
    float out[6];
    ref::get_rows(E, ids, 3, out);
    EXPECT_EQ(std::vector<float>(out, out + 6), (std::vector<float>{0.25f, 8.0f, 1.5f, -2.0f, 0.25f, 8.0f}));
    int32_t bad = 2;
    EXPECT_THROW(ref::get_rows(E, &bad, 1, out), Error);
}

TEST(KernelsReference, RmsNormOfConstantRowIsTheWeight) {
    std::vector<float> x(8, -3.0f), w = {1, 2, 3, 4, 5, 6, 7, 8}, out(8);
    ref::rms_norm(x.data(), w.data(), 1, 8, 0.0f, out.data());
    for (int i = 0; i < 8; ++i) EXPECT_NEAR(out[size_t(i)], -w[size_t(i)], 1e-6);
}

TEST(KernelsReference, RopeRotatesPairsByPositionTimesFrequency) {
    // One head of 4 dims, inv_freq = [1, 0.5], position 2: angles 2 and 1.
    const float inv_freq[2] = {1.0f, 0.5f};
    const int32_t pos[1] = {2};
    for (RopeMode mode : {RopeMode::normal, RopeMode::neox}) {
        std::vector<float> x = {1, 2, 3, 4};
        ref::rope(x.data(), 1, 1, 4, pos, inv_freq, 1.0f, mode);
        const int a0 = 0, b0 = mode == RopeMode::normal ? 1 : 2, a1 = mode == RopeMode::normal ? 2 : 1, b1 = 3;
        const float xa0 = float(a0 + 1), xb0 = float(b0 + 1), xa1 = float(a1 + 1), xb1 = float(b1 + 1);
        EXPECT_NEAR(x[a0], xa0 * std::cos(2.0f) - xb0 * std::sin(2.0f), 1e-6);
        EXPECT_NEAR(x[b0], xa0 * std::sin(2.0f) + xb0 * std::cos(2.0f), 1e-6);
        EXPECT_NEAR(x[a1], xa1 * std::cos(1.0f) - xb1 * std::sin(1.0f), 1e-6);
        EXPECT_NEAR(x[b1], xa1 * std::sin(1.0f) + xb1 * std::cos(1.0f), 1e-6);
    }
}

TEST(KernelsReference, AttentionOverOnePositionReturnsItsValue) {
    // 2 query heads share one kv head; the only visible position's value is the answer.
    std::vector<float> q = test::random_floats(2 * 4, 3), k = test::random_floats(4, 4), v = {1, -2, 3, -4}, out(8);
    const int32_t pos[1] = {0};
    ref::attention(q.data(), 1, 2, 1, 4, k.data(), v.data(), DType::f32, 1, pos, 0, 0.5f, out.data());
    for (int h = 0; h < 2; ++h)
        for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[size_t(h * 4 + i)], v[size_t(i)]);
}

TEST(KernelsReference, AttentionWeightsTwoPositionsBySoftmaxOfScores) {
    // q = [1, 0], keys [0, 0] and [2, 0], scale 1: weights softmax([0, 2]).
    std::vector<float> q = {1, 0}, k = {0, 0, 2, 0}, v = {1, 0, 0, 1}, out(2);
    const int32_t pos[1] = {1};
    ref::attention(q.data(), 1, 1, 1, 2, k.data(), v.data(), DType::f32, 2, pos, 0, 1.0f, out.data());
    const double w1 = std::exp(2.0) / (1.0 + std::exp(2.0));
    EXPECT_NEAR(out[0], 1 - w1, 1e-6);
    EXPECT_NEAR(out[1], w1, 1e-6);
    // A window of 1 sees only the current position.
    ref::attention(q.data(), 1, 1, 1, 2, k.data(), v.data(), DType::f32, 2, pos, 1, 1.0f, out.data());
    EXPECT_FLOAT_EQ(out[0], 0.0f);
    EXPECT_FLOAT_EQ(out[1], 1.0f);
}

TEST(KernelsReference, SiluMulAndSoftmaxMatchFormulas) {
    const float gate[3] = {-1.0f, 0.0f, 2.0f}, up[3] = {2.0f, 5.0f, -0.5f};
    float out[3];
    ref::silu_mul(gate, up, 3, out);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(out[i], gate[i] / (1 + std::exp(-gate[i])) * up[i], 1e-6);
    float x[4] = {1000.0f, 1000.0f, 0.0f, std::log(3.0f)};
    ref::softmax(x, 2, 2);
    EXPECT_FLOAT_EQ(x[0], 0.5f);
    EXPECT_FLOAT_EQ(x[1], 0.5f);
    EXPECT_NEAR(x[2], 0.25f, 1e-7);
    EXPECT_NEAR(x[3], 0.75f, 1e-7);
}

TEST(KernelsReference, GeluMulsMatchFormulas) {
    const float gate[4] = {-3.0f, -0.5f, 0.0f, 2.0f}, up[4] = {2.0f, 5.0f, 1.0f, -0.5f};
    float tanh_out[4], erf_out[4];
    ref::gelu_tanh_mul(gate, up, 4, tanh_out);
    ref::gelu_mul(gate, up, 4, erf_out);
    // PyTorch: gelu(2, approximate="tanh") = 1.9545977, gelu(2) = 1.9544997; gelu(-0.5) = -0.1542686 (tanh: -0.1542859).
    EXPECT_NEAR(tanh_out[3], 1.9545977f * -0.5f, 1e-6);
    EXPECT_NEAR(erf_out[3], 1.9544997f * -0.5f, 1e-6);
    EXPECT_NEAR(tanh_out[1], -0.1542859f * 5.0f, 1e-6);
    EXPECT_NEAR(erf_out[1], -0.1542686f * 5.0f, 1e-6);
    EXPECT_EQ(tanh_out[2], 0.0f);
    EXPECT_EQ(erf_out[2], 0.0f);
    EXPECT_LT(std::abs(tanh_out[0]), 0.01f);  // gelu of -3 is nearly 0
}

TEST(KernelsReference, UngatedGelusMatchPyTorchValues) {
    const float x[3] = {-0.5f, 0.0f, 2.0f};
    float tanh_out[3], erf_out[3];
    ref::gelu_tanh(x, 3, tanh_out);
    ref::gelu(x, 3, erf_out);
    // PyTorch, as above: gelu(2) = 1.9544997, gelu(2, approximate="tanh") = 1.9545977, and at -0.5.
    EXPECT_NEAR(erf_out[2], 1.9544997f, 1e-6);
    EXPECT_NEAR(tanh_out[2], 1.9545977f, 1e-6);
    EXPECT_NEAR(erf_out[0], -0.1542686f, 1e-6);
    EXPECT_NEAR(tanh_out[0], -0.1542859f, 1e-6);
    EXPECT_EQ(erf_out[1], 0.0f);
    EXPECT_EQ(tanh_out[1], 0.0f);
}

TEST(KernelsReference, LayerNormCentresScalesThenAppliesWeightAndBias) {
    // Row {1, 2, 3, 4}: mean 2.5, biased variance 1.25.
    const float x[4] = {1, 2, 3, 4}, w[4] = {1, 2, 1, 1}, b[4] = {0, 0, 0, 10};
    float out[4], plain[4];
    ref::layer_norm(x, w, b, 1, 4, 0.0f, out);
    ref::layer_norm(x, nullptr, nullptr, 1, 4, 0.0f, plain);
    const float s = 1.0f / std::sqrt(1.25f);
    EXPECT_NEAR(plain[0], -1.5f * s, 1e-6);
    EXPECT_NEAR(plain[3], 1.5f * s, 1e-6);
    EXPECT_NEAR(out[1], 2 * -0.5f * s, 1e-6);
    EXPECT_NEAR(out[3], 1.5f * s + 10, 1e-6);
    const float constant[3] = {7, 7, 7};
    ref::layer_norm(constant, nullptr, b, 1, 3, 1e-5f, out);  // no spread: only the bias is left
    for (int i = 0; i < 3; ++i) EXPECT_EQ(out[i], b[i]);
}

TEST(KernelsReference, SoftcapBendsLargeValuesTowardTheCap) {
    float x[4] = {0.0f, 0.01f, 3.0f, -1000.0f};
    ref::softcap(x, 4, 3.0f);
    EXPECT_EQ(x[0], 0.0f);
    EXPECT_NEAR(x[1], 0.01f, 1e-7);               // nearly linear near 0
    EXPECT_NEAR(x[2], 3.0f * std::tanh(1.0f), 1e-6);
    EXPECT_FLOAT_EQ(x[3], -3.0f);
}

TEST(KernelsReference, SoftCappedAttentionWeightsByCappedScores) {
    // q = [1, 0], keys [0, 0] and [4, 0], scale 1, cap 2: weights softmax([0, 2 tanh 2]).
    std::vector<float> q = {1, 0}, k = {0, 0, 4, 0}, v = {1, 0, 0, 1}, out(2);
    const int32_t pos[1] = {1};
    ref::attention(q.data(), 1, 1, 1, 2, k.data(), v.data(), DType::f32, 2, pos, 0, 1.0f, out.data(), 2.0f);
    const double s = 2.0 * std::tanh(2.0), w1 = std::exp(s) / (1.0 + std::exp(s));
    EXPECT_NEAR(out[0], 1 - w1, 1e-6);
    EXPECT_NEAR(out[1], w1, 1e-6);
}

}  // namespace
}  // namespace slm::kernels
