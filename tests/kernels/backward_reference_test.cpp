// Each reference backward (train_ops.h, slm::kernels::ref) against central finite differences
// of its forward reference: for a scalar loss L = <G, forward(x)> (or cross-entropy's own loss)
// and random directions u, <dL/dx, u> must equal (L(x + h u) - L(x - h u)) / 2h. Losses are
// summed in double from the forwards' f32 outputs; the tolerance is relative to sum |g_i u_i|,
// the size the directional derivative could have.
#include <slm/kernels.h>
#include <slm/train_ops.h>

#include "kernels/random_data.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace slm::kernels {
namespace {

using test::random_floats;
using test::random_weights;

double inner(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
    return s;
}

// Checks <grad, u> against the central difference of loss at x along u, for `directions` random u.
void expect_directional_derivatives(const std::function<double(const std::vector<float>&)>& loss,
                                    const std::vector<float>& x, const std::vector<float>& grad, double h,
                                    double tolerance, const std::string& what, int directions = 3) {
    for (int d = 0; d < directions; ++d) {
        const std::vector<float> u = random_floats(x.size(), uint32_t(1000 + d));
        std::vector<float> plus = x, minus = x;
        for (size_t i = 0; i < x.size(); ++i) {
            plus[i] = float(double(x[i]) + h * double(u[i]));
            minus[i] = float(double(x[i]) - h * double(u[i]));
        }
        // The steps actually taken (x + h u rounded to f32), so rounding of x does not count.
        double analytic = 0, size = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            const double step = (double(plus[i]) - double(minus[i])) / (2 * h);
            analytic += double(grad[i]) * step;
            size += std::fabs(double(grad[i]) * step);
        }
        const double numeric = (loss(plus) - loss(minus)) / (2 * h);
        EXPECT_NEAR(numeric, analytic, tolerance * size + 1e-6) << what << " direction " << d;
    }
}

TEST(BackwardReference, SgemmOfIdentityGivesTheOtherOperand) {
    // ref::sgemm is the meaning of sgemm; pin its transposes and strides on a case worked by hand.
    const float A[6] = {1, 2, 3, 4, 5, 6};  // [2, 3]
    const float B[6] = {1, 0, 0, 1, 1, 1};  // [3, 2]
    float C[4] = {NAN, NAN, NAN, NAN};
    ref::sgemm(Trans::no, Trans::no, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);
    EXPECT_EQ(std::vector<float>(C, C + 4), (std::vector<float>{4, 5, 10, 11}));
    ref::sgemm(Trans::yes, Trans::yes, 2, 2, 3, 2.0f, B, 2, A, 3, 1.0f, C, 2);  // C += 2 (A B)ᵀ
    EXPECT_EQ(std::vector<float>(C, C + 4), (std::vector<float>{12, 25, 20, 33}));
}

TEST(BackwardReference, MatmulBackwardInputIsTheTransposedProduct) {
    for (DType dtype : {DType::f32, DType::f16, DType::q4_0, DType::q6_k}) {
        const int64_t N = 5, K = traits(dtype).block_size == 256 ? 256 : 64, T = 3;
        const OwnedTensor W = random_weights(dtype, N, K, 3);
        const std::vector<float> x = random_floats(size_t(T * K), 4), G = random_floats(size_t(T * N), 5);
        const std::vector<float> before = random_floats(size_t(T * K), 6);
        std::vector<float> dx = before;
        ref::matmul_backward_input(W.tensor, G.data(), T, dx.data(), true);
        for (size_t i = 0; i < dx.size(); ++i) dx[i] -= before[i];
        auto loss = [&](const std::vector<float>& xs) {
            std::vector<float> y(size_t(T * N));
            ref::matmul(W.tensor, xs.data(), T, y.data());
            return inner(G, y);
        };
        expect_directional_derivatives(loss, x, dx, 0.5, 1e-5, std::string(name(dtype)));
        std::vector<float> overwritten(dx.size(), NAN), accumulated(dx.size(), 0.0f);
        ref::matmul_backward_input(W.tensor, G.data(), T, overwritten.data(), false);
        ref::matmul_backward_input(W.tensor, G.data(), T, accumulated.data(), true);
        EXPECT_EQ(overwritten, accumulated) << name(dtype);
    }
}

TEST(BackwardReference, RmsNormBackwardIsTheDerivativeInXAndW) {
    // eps = 1 where D = 1: there y = w x / sqrt(x^2 + eps) is flat in x but for eps, and a small
    // eps leaves a derivative below the f32 rounding of the loss.
    struct Shape { int64_t T, D; float eps; };
    for (Shape s : {Shape{1, 1, 1.0f}, Shape{1, 7, 1e-5f}, Shape{3, 33, 1e-5f}, Shape{4, 64, 1e-5f}}) {
        const float eps = s.eps;
        const std::vector<float> x = random_floats(size_t(s.T * s.D), uint32_t(s.D));
        const std::vector<float> w = random_floats(size_t(s.D), 7), G = random_floats(x.size(), 8);
        std::vector<float> dx(x.size()), dw(size_t(s.D), 0.25f);
        ref::rms_norm_backward(x.data(), w.data(), G.data(), s.T, s.D, eps, dx.data(), dw.data());
        for (float& g : dw) g -= 0.25f;  // dw was added to what it held
        auto loss_x = [&](const std::vector<float>& xs) {
            std::vector<float> y(xs.size());
            ref::rms_norm(xs.data(), w.data(), s.T, s.D, eps, y.data());
            return inner(G, y);
        };
        auto loss_w = [&](const std::vector<float>& ws) {
            std::vector<float> y(x.size());
            ref::rms_norm(x.data(), ws.data(), s.T, s.D, eps, y.data());
            return inner(G, y);
        };
        const std::string what = "T=" + std::to_string(s.T) + " D=" + std::to_string(s.D);
        expect_directional_derivatives(loss_x, x, dx, 1e-3, 2e-3, what + " dx");
        expect_directional_derivatives(loss_w, w, dw, 1e-3, 2e-3, what + " dw");
        std::vector<float> dx_alone(x.size());
        ref::rms_norm_backward(x.data(), w.data(), G.data(), s.T, s.D, eps, dx_alone.data(), nullptr);
        EXPECT_EQ(dx_alone, dx) << what;
    }
}

TEST(BackwardReference, RopeBackwardIsTheTransposedRotation) {
    for (RopeMode mode : {RopeMode::normal, RopeMode::neox}) {
        for (int64_t Dh : {2, 8, 64}) {
            const int64_t T = 4, H = 3;
            std::vector<float> inv_freq(size_t(Dh / 2));
            for (int64_t i = 0; i < Dh / 2; ++i) inv_freq[size_t(i)] = std::pow(10000.0f, -2.0f * float(i) / float(Dh));
            const int32_t pos[T] = {0, 3, 1000, 32767};
            const std::vector<float> x = random_floats(size_t(T * H * Dh), 11), G = random_floats(x.size(), 12);
            std::vector<float> dx = G;
            ref::rope_backward(dx.data(), T, H, Dh, pos, inv_freq.data(), 1.3f, mode);
            auto loss = [&](const std::vector<float>& xs) {
                std::vector<float> y = xs;
                ref::rope(y.data(), T, H, Dh, pos, inv_freq.data(), 1.3f, mode);
                return inner(G, y);
            };
            expect_directional_derivatives(loss, x, dx, 0.5, 1e-5, "Dh=" + std::to_string(Dh));
        }
    }
}

TEST(BackwardReference, SiluMulBackwardIsTheDerivativeInGateAndUp) {
    for (int64_t n : {1, 7, 100}) {
        std::vector<float> gate = random_floats(size_t(n), 13, 3.0f);
        gate[0] = n > 1 ? 20.0f : -20.0f;  // saturated sigmoids
        const std::vector<float> up = random_floats(size_t(n), 14), G = random_floats(size_t(n), 15);
        std::vector<float> dgate(static_cast<size_t>(n)), dup(static_cast<size_t>(n));
        ref::silu_mul_backward(gate.data(), up.data(), G.data(), n, dgate.data(), dup.data());
        auto loss_gate = [&](const std::vector<float>& gs) {
            std::vector<float> y(static_cast<size_t>(n));
            ref::silu_mul(gs.data(), up.data(), n, y.data());
            return inner(G, y);
        };
        auto loss_up = [&](const std::vector<float>& us) {
            std::vector<float> y(static_cast<size_t>(n));
            ref::silu_mul(gate.data(), us.data(), n, y.data());
            return inner(G, y);
        };
        expect_directional_derivatives(loss_gate, gate, dgate, 1e-3, 2e-3, "gate n=" + std::to_string(n));
        expect_directional_derivatives(loss_up, up, dup, 0.5, 1e-5, "up n=" + std::to_string(n));
    }
}

struct AttentionTrainCase {
    int64_t T, H, Hkv, Dh;
    std::vector<int32_t> seg_begin;
    int window;
};

// Cases over packed sequences: one token; three sequences (one of length 1) with GQA and an odd
// head size; a window inside one sequence; sequences of length 1 only; multi-query (Hkv = 1).
std::vector<AttentionTrainCase> attention_cases() {
    return {
        {1, 1, 1, 1, {0}, 0},
        {7, 4, 2, 5, {0, 0, 0, 3, 4, 4, 4}, 0},
        {9, 3, 1, 8, {0, 0, 0, 0, 0, 0, 0, 0, 0}, 3},
        {4, 2, 2, 4, {0, 1, 2, 3}, 0},
        {10, 6, 3, 6, {0, 0, 0, 0, 0, 5, 5, 5, 5, 5}, 2},
    };
}

TEST(BackwardReference, AttentionTrainBackwardIsTheDerivativeInQKV) {
    for (const AttentionTrainCase& c : attention_cases()) {
        const float scale = 1.0f / std::sqrt(float(c.Dh));
        const size_t nq = size_t(c.T * c.H * c.Dh), nkv = size_t(c.T * c.Hkv * c.Dh);
        const std::vector<float> q = random_floats(nq, 21), k = random_floats(nkv, 22), v = random_floats(nkv, 23);
        const std::vector<float> G = random_floats(nq, 24);
        std::vector<float> out(nq), lse(size_t(c.T * c.H)), dq(nq), dk(nkv), dv(nkv);
        ref::attention_train(q.data(), k.data(), v.data(), c.T, c.H, c.Hkv, c.Dh, c.seg_begin.data(), c.window, scale,
                             out.data(), lse.data());
        ref::attention_train_backward(q.data(), k.data(), v.data(), out.data(), lse.data(), G.data(), c.T, c.H, c.Hkv,
                                      c.Dh, c.seg_begin.data(), c.window, scale, dq.data(), dk.data(), dv.data());
        auto loss = [&](const std::vector<float>& qs, const std::vector<float>& ks, const std::vector<float>& vs) {
            std::vector<float> o(nq), l(size_t(c.T * c.H));
            ref::attention_train(qs.data(), ks.data(), vs.data(), c.T, c.H, c.Hkv, c.Dh, c.seg_begin.data(), c.window,
                                 scale, o.data(), l.data());
            return inner(G, o);
        };
        const std::string what = "T=" + std::to_string(c.T) + " H=" + std::to_string(c.H) + "/" + std::to_string(c.Hkv) +
                                 " Dh=" + std::to_string(c.Dh) + " window=" + std::to_string(c.window);
        expect_directional_derivatives([&](const std::vector<float>& x) { return loss(x, k, v); }, q, dq, 1e-3, 2e-3,
                                       what + " dq");
        expect_directional_derivatives([&](const std::vector<float>& x) { return loss(q, x, v); }, k, dk, 1e-3, 2e-3,
                                       what + " dk");
        expect_directional_derivatives([&](const std::vector<float>& x) { return loss(q, k, x); }, v, dv, 0.5, 1e-5,
                                       what + " dv");
    }
}

TEST(BackwardReference, AttentionTrainSeesOnlyItsSequenceAndWindow) {
    // A token alone in its sequence (or with window 1) attends to itself only: out = its v, lse = its score.
    const int64_t T = 3, Dh = 2;
    const std::vector<float> q = {1, 2, 3, 4, 5, 6}, k = {1, 0, 0, 1, 1, 1}, v = {7, 8, 9, 10, 11, 12};
    const int32_t seg[T] = {0, 1, 1};
    std::vector<float> out(T * Dh), lse(T);
    ref::attention_train(q.data(), k.data(), v.data(), T, 1, 1, Dh, seg, 0, 1.0f, out.data(), lse.data());
    EXPECT_FLOAT_EQ(out[0], 7);
    EXPECT_FLOAT_EQ(out[1], 8);
    EXPECT_FLOAT_EQ(lse[0], 1.0f);
    EXPECT_FLOAT_EQ(out[2], 9);
    EXPECT_FLOAT_EQ(lse[1], 4.0f);                                               // q1.k1; k0 is another sequence's
    EXPECT_FLOAT_EQ(lse[2], float(std::log(std::exp(6.0) + std::exp(11.0))));  // q2.k1, q2.k2
    const int32_t one[T] = {0, 0, 0};
    ref::attention_train(q.data(), k.data(), v.data(), T, 1, 1, Dh, one, 1, 1.0f, out.data(), lse.data());
    EXPECT_FLOAT_EQ(out[4], 11);
    EXPECT_FLOAT_EQ(lse[2], 11.0f);
}

TEST(BackwardReference, CrossEntropyGradientIsTheLossDerivative) {
    struct Case { int64_t T, V; std::vector<int32_t> targets; float offset; };
    for (const Case& c : {Case{1, 1, {0}, 0}, Case{3, 7, {2, -1, 6}, 0}, Case{2, 500, {499, 0}, 80.0f}}) {
        std::vector<float> logits = random_floats(size_t(c.T * c.V), 31, 2.0f);
        for (float& x : logits) x += c.offset;  // large logits: the max must be subtracted
        std::vector<float> grad = logits, row_loss(size_t(c.T), -1.0f);
        const double total = ref::cross_entropy(grad.data(), c.targets.data(), c.T, c.V, 1.0f, row_loss.data());
        double rows = 0;
        for (float l : row_loss) rows += l;
        EXPECT_NEAR(rows, total, 1e-5 * std::fabs(total) + 1e-6);
        for (int64_t t = 0; t < c.T; ++t) {
            if (c.targets[size_t(t)] >= 0) continue;
            EXPECT_EQ(row_loss[size_t(t)], 0.0f);
            for (int64_t i = 0; i < c.V; ++i) EXPECT_EQ(grad[size_t(t * c.V + i)], 0.0f);
        }
        auto loss = [&](const std::vector<float>& xs) {
            std::vector<float> scratch = xs;
            return ref::cross_entropy(scratch.data(), c.targets.data(), c.T, c.V, 1.0f, nullptr);
        };
        expect_directional_derivatives(loss, logits, grad, 1e-2, 2e-3, "V=" + std::to_string(c.V));
        std::vector<float> scaled = logits;
        EXPECT_DOUBLE_EQ(ref::cross_entropy(scaled.data(), c.targets.data(), c.T, c.V, 0.5f, nullptr), total);
        for (size_t i = 0; i < scaled.size(); ++i) EXPECT_NEAR(scaled[i], 0.5f * grad[i], 1e-7);
    }
}

}  // namespace
}  // namespace slm::kernels
