// The fast training ops (train_ops.h) against their references: sgemm on every level with all
// transposes, strides, alpha and beta; the matmul input gradient for every weight type and both
// layouts; the row-wise backward ops; attention over packed sequences; cross-entropy. Results
// must not depend on the thread count.
#include <slm/kernels.h>
#include <slm/train_ops.h>

#include "kernels/cpu/sgemm.h"
#include "kernels/random_data.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace slm::kernels {
namespace {

using test::random_floats;
using test::random_weights;
using test::relative_max_error;

struct GemmShape { int64_t M, N, K; };

// op(A)[i, k] for A stored [M, K] or [K, M].
float op_at(const std::vector<float>& X, Trans t, int64_t ld, int64_t i, int64_t k) {
    return t == Trans::no ? X[size_t(i * ld + k)] : X[size_t(k * ld + i)];
}

// |fast - ref| per element within 1e-5 of |alpha| sum_k |a b| + |beta c|: f32 rounding of the sum.
void expect_gemm_close(const std::vector<float>& fast, const std::vector<float>& ref, const std::vector<float>& A,
                       const std::vector<float>& B, const std::vector<float>& C0, Trans ta, Trans tb, GemmShape s,
                       int64_t lda, int64_t ldb, int64_t ldc, float alpha, float beta, const std::string& what) {
    int failures = 0;
    for (int64_t i = 0; i < s.M && failures < 5; ++i)
        for (int64_t j = 0; j < s.N && failures < 5; ++j) {
            double size = 0;
            for (int64_t k = 0; k < s.K; ++k) size += std::fabs(double(op_at(A, ta, lda, i, k)) * op_at(B, tb == Trans::no ? Trans::yes : Trans::no, ldb, j, k));
            size = std::fabs(alpha) * size + (beta == 0.0f ? 0.0 : std::fabs(double(beta) * C0[size_t(i * ldc + j)]));
            const double f = fast[size_t(i * ldc + j)], r = ref[size_t(i * ldc + j)];
            if (!(std::fabs(f - r) <= 1e-5 * size + 1e-30)) {
                ++failures;
                ADD_FAILURE() << what << " C[" << i << ", " << j << "] = " << f << ", ref " << r;
            }
        }
    // Padding between rows (ldc > N) is never written.
    for (int64_t i = 0; i < s.M; ++i)
        for (int64_t j = s.N; j < ldc; ++j)
            if (!(std::isnan(fast[size_t(i * ldc + j)]) && std::isnan(C0[size_t(i * ldc + j)])) &&
                fast[size_t(i * ldc + j)] != C0[size_t(i * ldc + j)]) {
                ADD_FAILURE() << what << " wrote past N at row " << i;
                return;
            }
}

void check_sgemm(const SgemmOps& ops, const std::string& level, GemmShape s, Trans ta, Trans tb, float alpha,
                 float beta, int64_t pad, ThreadPool* pool) {
    const int64_t a_rows = ta == Trans::no ? s.M : s.K, a_cols = ta == Trans::no ? s.K : s.M;
    const int64_t b_rows = tb == Trans::no ? s.K : s.N, b_cols = tb == Trans::no ? s.N : s.K;
    const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = s.N + pad;
    const std::vector<float> A = random_floats(size_t(std::max<int64_t>(1, a_rows * lda)), uint32_t(s.M + 7 * s.K));
    const std::vector<float> B = random_floats(size_t(std::max<int64_t>(1, b_rows * ldb)), uint32_t(s.N + 5 * s.K));
    std::vector<float> C0 = random_floats(size_t(s.M * ldc), 3);
    if (beta == 0.0f) std::fill(C0.begin(), C0.end(), NAN);  // must not be read
    std::vector<float> ref_c = C0, fast = C0;
    ref::sgemm(ta, tb, s.M, s.N, s.K, alpha, A.data(), lda, B.data(), ldb, beta, ref_c.data(), ldc);
    sgemm_with(ops, ta, tb, s.M, s.N, s.K, alpha, A.data(), lda, B.data(), ldb, beta, fast.data(), ldc, pool);
    const std::string what = fmt::format("{} M={} N={} K={} ta={} tb={} alpha={} beta={} pad={}", level, s.M, s.N, s.K,
                                         ta == Trans::yes, tb == Trans::yes, alpha, beta, pad);
    expect_gemm_close(fast, ref_c, A, B, C0, ta, tb, s, lda, ldb, ldc, alpha, beta, what);
    std::vector<float> one_thread = C0;
    sgemm_with(ops, ta, tb, s.M, s.N, s.K, alpha, A.data(), lda, B.data(), ldb, beta, one_thread.data(), ldc, nullptr);
    for (size_t i = 0; i < fast.size(); ++i)
        if (!(fast[i] == one_thread[i] || (std::isnan(fast[i]) && std::isnan(one_thread[i])))) {
            ADD_FAILURE() << what << ": depends on the thread count at " << i;
            break;
        }
}

struct Level { const SgemmOps* ops; std::string name; };
std::vector<Level> sgemm_levels() {
    std::vector<Level> levels{{&sgemm_ops_portable(), "portable"}};
    if (isa_supported(Isa::avx2)) levels.push_back({&sgemm_ops_avx2(), "avx2"});
    return levels;
}

TEST(Sgemm, EveryLevelMatchesReferenceOnAllTransposesAndOddShapes) {
    ThreadPool pool(2);
    for (const Level& level : sgemm_levels())
        for (GemmShape s : {GemmShape{1, 1, 1}, GemmShape{7, 17, 33}, GemmShape{17, 1, 100}, GemmShape{100, 33, 7},
                            GemmShape{33, 100, 17}, GemmShape{6, 16, 8}, GemmShape{13, 40, 300}, GemmShape{131, 45, 260}})
            for (Trans ta : {Trans::no, Trans::yes})
                for (Trans tb : {Trans::no, Trans::yes}) {
                    check_sgemm(*level.ops, level.name, s, ta, tb, 1.0f, 0.0f, 0, &pool);
                    check_sgemm(*level.ops, level.name, s, ta, tb, -0.5f, 1.0f, 3, &pool);
                    check_sgemm(*level.ops, level.name, s, ta, tb, 2.0f, 0.7f, 1, &pool);
                }
}

TEST(Sgemm, LargeShapesAcrossCacheBlocks) {
    // K past one K block (256), N past one packed B block (4096 columns), M over many row tiles.
    ThreadPool pool(2);
    for (const Level& level : sgemm_levels()) {
        check_sgemm(*level.ops, level.name, {200, 70, 600}, Trans::no, Trans::no, 1.0f, 0.0f, 0, &pool);
        check_sgemm(*level.ops, level.name, {150, 90, 513}, Trans::yes, Trans::yes, 1.0f, 1.0f, 5, &pool);
        check_sgemm(*level.ops, level.name, {3, 4133, 20}, Trans::no, Trans::yes, 1.0f, 0.0f, 0, &pool);
        check_sgemm(*level.ops, level.name, {16, 64, 1100}, Trans::yes, Trans::no, 1.0f, 0.0f, 0, &pool);
    }
}

TEST(Sgemm, EmptySumScalesC) {
    std::vector<float> C = {1, 2, NAN, 4};
    sgemm(Trans::no, Trans::no, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, C.data(), 2, nullptr);
    EXPECT_EQ(C, (std::vector<float>{0, 0, 0, 0}));
    C = {1, 2, 3, 4};
    const float A[2] = {1, 1}, B[2] = {1, 1};
    sgemm(Trans::no, Trans::no, 2, 2, 1, 0.0f, A, 1, B, 2, 2.0f, C.data(), 2, nullptr);
    EXPECT_EQ(C, (std::vector<float>{2, 4, 6, 8}));
}

// Calls fn(W, what, N, K, T) for frozen weights of every dtype training reads (rows and, where the
// CPU has one, the interleaved8 copy) on small, odd and many-token shapes; `reference` is the
// row-layout tensor, whose scalar result the others must match.
template <typename Fn>
void for_each_frozen_weight(Fn&& fn) {
    struct Shape { int64_t N, blocks, T; };
    for (DType dtype : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q5_0, DType::q4_k,
                        DType::q6_k, DType::nf4}) {
        const int64_t block = traits(dtype).block_size;
        for (Shape shape : {Shape{8, 1, 1}, Shape{1, 3, 5}, Shape{24, 9, 70}, Shape{136, 17, 3}, Shape{200, 2, 600}}) {
            const int64_t blocks = block == 256 ? std::max<int64_t>(1, shape.blocks / 4) : block == 1 ? shape.blocks * 32 + 1 : shape.blocks;
            const int64_t N = shape.N, K = blocks * block, T = shape.T;
            const OwnedTensor W = random_weights(dtype, N, K, uint32_t(N + K));
            std::vector<const Tensor*> tensors{&W.tensor};
            std::optional<OwnedTensor> interleaved = interleave_for_matmul(W.tensor);
            if (interleaved) tensors.push_back(&interleaved->tensor);
            for (const Tensor* t : tensors)
                fn(W.tensor, *t,
                   fmt::format("{} {} N={} K={} T={}", name(dtype), t->layout == Layout::rows ? "rows" : "interleaved8", N,
                               K, T),
                   N, K, T);
        }
    }
}

TEST(FrozenMatmul, MatchesReferenceForEveryWeightTypeAndLayout) {
    ThreadPool pool(2);
    for_each_frozen_weight([&](const Tensor& reference, const Tensor& W, const std::string& what, int64_t N, int64_t K,
                               int64_t T) {
        const std::vector<float> x = random_floats(size_t(T * K), uint32_t(T + 3));
        std::vector<float> ref_y(size_t(T * N)), y(size_t(T * N), NAN), one(size_t(T * N), NAN);
        ref::matmul(reference, x.data(), T, ref_y.data());
        frozen_matmul(W, x.data(), T, y.data(), &pool);
        EXPECT_LT(relative_max_error(y, ref_y), 2e-5) << what;
        frozen_matmul(W, x.data(), T, one.data(), nullptr);
        EXPECT_EQ(one, y) << what << ": depends on the thread count";
    });
}

TEST(MatmulBackwardInput, MatchesReferenceForEveryWeightTypeAndLayout) {
    ThreadPool pool(2);
    for_each_frozen_weight([&](const Tensor& reference, const Tensor& W, const std::string& what, int64_t N, int64_t K,
                               int64_t T) {
        const std::vector<float> dy = random_floats(size_t(T * N), uint32_t(T + 1));
        const std::vector<float> before = random_floats(size_t(T * K), 2);
        for (bool accumulate : {false, true}) {
            const std::string where = what + (accumulate ? " accumulate" : "");
            std::vector<float> ref_dx = accumulate ? before : std::vector<float>(before.size(), 0.0f);
            ref::matmul_backward_input(reference, dy.data(), T, ref_dx.data(), accumulate);
            std::vector<float> dx = accumulate ? before : std::vector<float>(before.size(), NAN);
            matmul_backward_input(W, dy.data(), T, dx.data(), accumulate, &pool);
            EXPECT_LT(relative_max_error(dx, ref_dx), 2e-5) << where;
            std::vector<float> one = accumulate ? before : std::vector<float>(before.size(), NAN);
            matmul_backward_input(W, dy.data(), T, one.data(), accumulate, nullptr);
            EXPECT_EQ(one, dx) << where << ": depends on the thread count";
        }
    });
}

TEST(TrainOpsFast, RmsNormBackwardMatchesReference) {
    ThreadPool pool(2);
    // Not D = 1: there dx = r w dy eps / (x^2 + eps) is two nearly equal terms' difference,
    // which f32 cannot resolve as the double reference does.
    for (int64_t D : {3, 7, 64, 1000}) {
        for (int64_t T : {1, 5, 300}) {
            const std::vector<float> x = random_floats(size_t(T * D), uint32_t(D)), w = random_floats(size_t(D), 9);
            const std::vector<float> dy = random_floats(x.size(), 10), dw0 = random_floats(size_t(D), 11);
            std::vector<float> dx_ref(x.size()), dx(x.size()), dx_one(x.size()), dw_ref = dw0, dw = dw0, dw_one = dw0;
            ref::rms_norm_backward(x.data(), w.data(), dy.data(), T, D, 1e-5f, dx_ref.data(), dw_ref.data());
            rms_norm_backward(x.data(), w.data(), dy.data(), T, D, 1e-5f, dx.data(), dw.data(), &pool);
            rms_norm_backward(x.data(), w.data(), dy.data(), T, D, 1e-5f, dx_one.data(), dw_one.data(), nullptr);
            const std::string what = fmt::format("T={} D={}", T, D);
            EXPECT_LT(relative_max_error(dx, dx_ref), 1e-5) << what;
            EXPECT_LT(relative_max_error(dw, dw_ref), 1e-5) << what;
            EXPECT_EQ(dx_one, dx) << what;
            EXPECT_EQ(dw_one, dw) << what;
            rms_norm_backward(x.data(), w.data(), dy.data(), T, D, 1e-5f, dx_one.data(), nullptr, &pool);
            EXPECT_EQ(dx_one, dx) << what;
        }
    }
}

TEST(TrainOpsFast, RopeBackwardMatchesReferenceAndUndoesRope) {
    ThreadPool pool(2);
    for (RopeMode mode : {RopeMode::normal, RopeMode::neox}) {
        for (int64_t Dh : {2, 64, 128}) {
            const int64_t T = 5, H = 3;
            std::vector<float> inv_freq(size_t(Dh / 2));
            for (int64_t i = 0; i < Dh / 2; ++i) inv_freq[size_t(i)] = std::pow(10000.0f, -2.0f * float(i) / float(Dh));
            const int32_t pos[T] = {0, 1, 17, 1000, 32767};
            const std::vector<float> g = random_floats(size_t(T * H * Dh), 11);
            std::vector<float> a = g, b = g, cos_sin(size_t(T * Dh));
            ref::rope_backward(a.data(), T, H, Dh, pos, inv_freq.data(), 1.1f, mode);
            rope_angles(pos, T, Dh, inv_freq.data(), 1.1f, cos_sin.data(), &pool);
            rope_backward(b.data(), T, H, Dh, cos_sin.data(), mode, &pool);
            EXPECT_LT(relative_max_error(b, a), 1e-5) << "Dh=" << Dh;
            // A rotation's transpose is its inverse: rope then rope_backward gives mscale^2 x back.
            rope(b.data(), T, H, Dh, cos_sin.data(), mode, &pool);
            for (float& x : b) x /= 1.1f * 1.1f;
            EXPECT_LT(relative_max_error(b, g), 1e-5) << "Dh=" << Dh;
        }
    }
}

TEST(TrainOpsFast, SiluMulBackwardMatchesReferenceAlsoInPlace) {
    ThreadPool pool(2);
    for (int64_t n : {1, 7, 100, 40000}) {
        std::vector<float> gate = random_floats(size_t(n), 13, 4.0f);
        gate[0] = -30.0f;
        const std::vector<float> up = random_floats(size_t(n), 14), dout = random_floats(size_t(n), 15);
        const size_t count = static_cast<size_t>(n);
        std::vector<float> dg_ref(count), du_ref(count), dg(count), du(count);
        ref::silu_mul_backward(gate.data(), up.data(), dout.data(), n, dg_ref.data(), du_ref.data());
        silu_mul_backward(gate.data(), up.data(), dout.data(), n, dg.data(), du.data(), &pool);
        EXPECT_LT(relative_max_error(dg, dg_ref), 1e-5) << n;
        EXPECT_LT(relative_max_error(du, du_ref), 1e-5) << n;
        std::vector<float> aliased = dout;  // dgate over dout
        silu_mul_backward(gate.data(), up.data(), aliased.data(), n, aliased.data(), du.data(), &pool);
        EXPECT_EQ(aliased, dg) << n;
    }
}

TEST(TrainOpsFast, GetRowsBackwardAddsEveryTokensRow) {
    const int64_t V = 6, D = 5, T = 4;
    const int32_t ids[T] = {2, 0, 2, 5};
    const std::vector<float> dout = random_floats(size_t(T * D), 16), E0 = random_floats(size_t(V * D), 17);
    std::vector<float> dE = E0, expected = E0;
    for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < D; ++i) expected[size_t(ids[t] * D + i)] += dout[size_t(t * D + i)];
    get_rows_backward(dout.data(), ids, T, D, dE.data());
    EXPECT_EQ(dE, expected);
}

struct PackedAttention {
    int64_t H, Hkv, Dh;
    std::vector<int32_t> lengths;
    int window;
};

TEST(TrainOpsFast, AttentionTrainAndBackwardMatchReference) {
    ThreadPool pool(2);
    for (const PackedAttention& c : {PackedAttention{1, 1, 1, {1}, 0}, PackedAttention{4, 2, 5, {3, 1, 3}, 0},
                                     PackedAttention{3, 1, 8, {9}, 3}, PackedAttention{2, 2, 4, {1, 1, 1, 1}, 0},
                                     PackedAttention{6, 3, 16, {70, 1, 60}, 0}, PackedAttention{14, 2, 64, {150}, 0},
                                     PackedAttention{8, 1, 32, {100, 40}, 50}, PackedAttention{2, 1, 128, {200}, 0}}) {
        std::vector<int32_t> seg_begin;
        for (int32_t len : c.lengths)
            for (int32_t i = 0; i < len; ++i) seg_begin.push_back(int32_t(seg_begin.size()) - i);
        const int64_t T = int64_t(seg_begin.size());
        const float scale = 1.0f / std::sqrt(float(c.Dh));
        const size_t nq = size_t(T * c.H * c.Dh), nkv = size_t(T * c.Hkv * c.Dh);
        const std::vector<float> q = random_floats(nq, 21), k = random_floats(nkv, 22), v = random_floats(nkv, 23);
        const std::vector<float> dout = random_floats(nq, 24);
        std::vector<float> out_ref(nq), lse_ref(size_t(T * c.H)), out(nq), lse(lse_ref.size());
        ref::attention_train(q.data(), k.data(), v.data(), T, c.H, c.Hkv, c.Dh, seg_begin.data(), c.window, scale,
                             out_ref.data(), lse_ref.data());
        attention_train(q.data(), k.data(), v.data(), T, c.H, c.Hkv, c.Dh, seg_begin.data(), c.window, scale, out.data(),
                        lse.data(), &pool);
        const std::string what = fmt::format("T={} H={}/{} Dh={} window={}", T, c.H, c.Hkv, c.Dh, c.window);
        EXPECT_LT(relative_max_error(out, out_ref), 1e-5) << what;
        EXPECT_LT(relative_max_error(lse, lse_ref), 1e-5) << what;
        std::vector<float> dq_ref(nq), dk_ref(nkv), dv_ref(nkv), dq(nq, NAN), dk(nkv, NAN), dv(nkv, NAN);
        ref::attention_train_backward(q.data(), k.data(), v.data(), out_ref.data(), lse_ref.data(), dout.data(), T, c.H,
                                      c.Hkv, c.Dh, seg_begin.data(), c.window, scale, dq_ref.data(), dk_ref.data(),
                                      dv_ref.data());
        attention_train_backward(q.data(), k.data(), v.data(), out.data(), lse.data(), dout.data(), T, c.H, c.Hkv, c.Dh,
                                 seg_begin.data(), c.window, scale, dq.data(), dk.data(), dv.data(), &pool);
        // Relative to at least 1 (the inputs' scale): with sequences of length 1, dq and dk are
        // exactly zero but for rounding, and a relative error of two roundings means nothing.
        auto gradient_error = [](const std::vector<float>& a, const std::vector<float>& b) {
            double diff = 0, size = 1;
            for (size_t i = 0; i < a.size(); ++i)
                diff = std::max(diff, std::fabs(double(a[i]) - b[i])), size = std::max(size, std::fabs(double(b[i])));
            return diff / size;
        };
        EXPECT_LT(gradient_error(dq, dq_ref), 1e-4) << what;
        EXPECT_LT(gradient_error(dk, dk_ref), 1e-4) << what;
        EXPECT_LT(gradient_error(dv, dv_ref), 1e-4) << what;
        std::vector<float> dq_one(nq), dk_one(nkv), dv_one(nkv);
        attention_train_backward(q.data(), k.data(), v.data(), out.data(), lse.data(), dout.data(), T, c.H, c.Hkv, c.Dh,
                                 seg_begin.data(), c.window, scale, dq_one.data(), dk_one.data(), dv_one.data(), nullptr);
        EXPECT_EQ(dq_one, dq) << what;
        EXPECT_EQ(dk_one, dk) << what;
        EXPECT_EQ(dv_one, dv) << what;
    }
}

TEST(TrainOpsFast, CrossEntropyMatchesReference) {
    ThreadPool pool(2);
    struct Case { int64_t T, V; std::vector<int32_t> targets; };
    for (const Case& c : {Case{1, 1, {0}}, Case{5, 1000, {3, -1, 999, 0, 500}}, Case{2, 152064, {152063, 7}},
                          Case{3, 33, {-1, -1, -1}}}) {
        std::vector<float> logits = random_floats(size_t(c.T * c.V), 31, 3.0f);
        logits[0] += 60.0f;
        std::vector<float> g_ref = logits, g = logits, loss_ref(size_t(c.T)), loss(size_t(c.T));
        const double total_ref = ref::cross_entropy(g_ref.data(), c.targets.data(), c.T, c.V, 0.25f, loss_ref.data());
        const double total = cross_entropy(g.data(), c.targets.data(), c.T, c.V, 0.25f, loss.data(), &pool);
        const std::string what = fmt::format("T={} V={}", c.T, c.V);
        EXPECT_NEAR(total, total_ref, 1e-5 * std::fabs(total_ref) + 1e-6) << what;
        EXPECT_LT(relative_max_error(loss, loss_ref), 1e-5) << what;
        for (size_t i = 0; i < g.size(); ++i)
            if (std::fabs(g[i] - g_ref[i]) > 1e-6f * 0.25f + 1e-5f * std::fabs(g_ref[i])) {
                ADD_FAILURE() << what << " gradient " << i << ": " << g[i] << " vs " << g_ref[i];
                break;
            }
        std::vector<float> again = logits;
        EXPECT_EQ(cross_entropy(again.data(), c.targets.data(), c.T, c.V, 0.25f, nullptr, nullptr), total) << what;
    }
}

}  // namespace
}  // namespace slm::kernels
