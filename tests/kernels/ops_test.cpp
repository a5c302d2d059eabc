// Each public (fast) kernel compared with its scalar reference on random data and edge-case
// shapes: one token (decode), odd sizes, grouped-query ratios, sliding windows, f16 caches.
#include <slm/error.h>
#include <slm/half.h>
#include <slm/kernels.h>

#include "kernels/cpu/attention_tile.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/row_dot.h"
#include "kernels/random_data.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <string>

namespace slm::kernels {
namespace {

using test::random_floats;
using test::random_weights;
using test::relative_max_error;

// Every instruction-set level, in order; a test skips those this CPU lacks.
constexpr Isa kLevels[] = {Isa::portable, Isa::avx2, Isa::avx512};

// Activations of quantized weights are rounded to 8 bits per block (as llama.cpp does), each
// element off by at most amax(block) / 254, so |fast - ref| <= sum_k |w_k| * amax(block of k) / 254
// (plus f32 rounding). Float weights keep f32 activations: only rounding differs, as between two
// kernels given the same 8-bit activations (same_activations).
void expect_matmul_close(const Tensor& W, const std::vector<float>& x, int64_t T, const std::vector<float>& fast,
                         const std::vector<float>& ref, const std::string& what, bool same_activations = false) {
    const int64_t N = W.rows(), K = W.row_length();
    const int64_t act_block =
        !is_quantized(W.dtype) || same_activations ? 0 : traits(W.dtype).block_size == 256 ? 256 : 32;
    std::vector<float> w(static_cast<size_t>(K));
    int failures = 0;
    for (int64_t n = 0; n < N && failures < 5; ++n) {
        traits(W.dtype).to_float(W.row(n), w.data(), K);
        for (int64_t t = 0; t < T; ++t) {
            const float* xt = x.data() + t * K;
            double bound = 0, magnitude = 0, amax = 0;
            for (int64_t k = 0; k < K; ++k) {
                magnitude += std::fabs(double(w[size_t(k)]) * xt[k]);
                if (act_block == 0) continue;
                if (k % act_block == 0) {
                    amax = 0;
                    for (int64_t i = k; i < k + act_block; ++i) amax = std::max(amax, std::fabs(double(xt[i])));
                }
                bound += std::fabs(double(w[size_t(k)])) * amax / 254.0;
            }
            bound = bound * 1.001 + 1e-5 * magnitude + 1e-6;
            const double diff = std::fabs(double(fast[size_t(t * N + n)]) - double(ref[size_t(t * N + n)]));
            if (diff > bound) {
                ++failures;
                ADD_FAILURE() << what << " n=" << n << " t=" << t << ": |" << fast[size_t(t * N + n)] << " - "
                              << ref[size_t(t * N + n)] << "| = " << diff << " > " << bound;
            }
        }
    }
}

class MatmulMatchesReference : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulMatchesReference, OnDecodePrefillAndOddShapes) {
    const DType dtype = GetParam();
    if (traits(dtype).from_float == nullptr) GTEST_SKIP() << name(dtype) << " has no reference quantizer yet";
    const int64_t block = traits(dtype).block_size;
    ThreadPool pool(2);
    struct Shape { int64_t N, K, T; };
    const int64_t k_big = std::max<int64_t>(block * 8, 512);
    for (Shape s : {Shape{1, block, 1}, Shape{7, block * 3, 1}, Shape{33, k_big, 1}, Shape{3, block, 3},
                    Shape{9, block * 2, 4}, Shape{65, k_big, 5}, Shape{130, block * 2, 17}, Shape{17, block, 63},
                    Shape{64, k_big, 64}, Shape{5, block * 3, 65}, Shape{19, block * 2, 16}, Shape{11, block * 2, 8},
                    Shape{6, block * 24, 8}, Shape{7, block * 40, 3}}) {
        OwnedTensor W = random_weights(dtype, s.N, s.K, uint32_t(s.N * 31 + s.K));
        const std::vector<float> x = random_floats(size_t(s.T * s.K), uint32_t(s.T + 7));
        std::vector<float> y_ref(size_t(s.T * s.N)), y_fast(y_ref.size()), y_one(y_ref.size());
        ref::matmul(W.tensor, x.data(), s.T, y_ref.data());
        matmul(W.tensor, x.data(), s.T, y_fast.data(), &pool);
        expect_matmul_close(W.tensor, x, s.T, y_fast, y_ref, fmt::format("{} N={} K={} T={}", name(dtype), s.N, s.K, s.T));
        // Every compiled instruction-set level this CPU runs, single-threaded and pooled alike.
        const bool prompt_uses_gemm = gemm_kernel(dtype, Layout::rows, best_isa()).fn != nullptr && s.T >= kGemmMinTokens;
        for (Isa isa : kLevels) {
            const RowDot* kernel = row_dot(dtype, isa);
            if (!isa_supported(isa) || kernel == nullptr) continue;
            matmul_with(*kernel, W.tensor, x.data(), s.T, y_one.data(), nullptr);
            expect_matmul_close(W.tensor, x, s.T, y_one, y_ref,
                                fmt::format("{} {} N={} K={} T={}", isa_name(isa), name(dtype), s.N, s.K, s.T));
            if (isa == best_isa() && !prompt_uses_gemm) {
                EXPECT_EQ(y_fast, y_one) << "result depends on the thread count";
            }
        }
        // Every level's prompt GEMM on every shape, T = 1 included, single-threaded and pooled.
        for (Isa isa : kLevels) {
            const GemmKernel gemm = isa_supported(isa) ? gemm_kernel(dtype, Layout::rows, isa) : GemmKernel{};
            if (gemm.fn == nullptr) continue;
            matmul_by_gemm(gemm, W.tensor, x.data(), s.T, y_one.data(), nullptr);
            expect_matmul_close(W.tensor, x, s.T, y_one, y_ref,
                                fmt::format("{} gemm {} N={} K={} T={}", isa_name(isa), name(dtype), s.N, s.K, s.T));
            std::vector<float> y_pooled(y_one.size());
            matmul_by_gemm(gemm, W.tensor, x.data(), s.T, y_pooled.data(), &pool);
            EXPECT_EQ(y_pooled, y_one) << isa_name(isa) << " gemm result depends on the thread count";
            if (prompt_uses_gemm && isa == best_isa()) {
                EXPECT_EQ(y_fast, y_one) << "matmul did not take the gemm for a prompt";
            }
        }
        // One token at a time gives the prompt's values exactly (decode == prefill) as long as the
        // prompt runs on the row dots; the GEMM sums in another order, within the same bound.
        if (s.T > 1) {
            for (int64_t t = 0; t < s.T; ++t) matmul(W.tensor, x.data() + t * s.K, 1, y_one.data() + t * s.N, &pool);
            if (prompt_uses_gemm) expect_matmul_close(W.tensor, x, s.T, y_one, y_ref, "token by token");
            else EXPECT_EQ(y_fast, y_one) << "token-by-token result differs from the batched one";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, MatmulMatchesReference,
                         ::testing::Values(DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_1,
                                           DType::q5_0, DType::q5_1, DType::iq4_nl, DType::q4_k, DType::q5_k,
                                           DType::q6_k),
                         [](const auto& info) { return std::string(name(info.param)); });

// The types with an interleaved8 layout on the x86 levels.
constexpr DType kInterleavedTypes[] = {DType::q4_0, DType::q5_0, DType::q8_0, DType::q4_k, DType::q6_k};

// Interleaved8 weights (q4_0, q5_0, q8_0, q4_k, q6_k regrouped at load, kernels::interleave_for_matmul): the same
// matrix for the reference; on every level's GEMM and for every number of tokens, the row
// layout's GEMM values bit for bit where both take q8_32 activations, and the row dots' values up
// to f32 rounding where both take q8_256 (the k-quants); decode equals prefill and the thread
// count changes nothing; matmul takes the best level's.
TEST(KernelsFast, InterleavedWeightsGiveTheRowLayoutsValues) {
    if (best_isa() < Isa::avx2) GTEST_SKIP() << "the interleaved layout is made only for the x86 GEMMs";
    ThreadPool pool(2);
    struct Shape { int64_t N, blocks, T; };
    for (DType dtype : kInterleavedTypes) {
        const int64_t block = traits(dtype).block_size;
        for (Shape shape : {Shape{8, 1, 1}, Shape{16, 2, 3}, Shape{40, 8, 1}, Shape{64, 16, 5}, Shape{24, 3, 17},
                            Shape{8, 40, 7}, Shape{136, 16, 64}, Shape{520, 8, 2}}) {
            if (block == 256) shape.blocks = std::max<int64_t>(1, shape.blocks / 4);
            const struct { int64_t N, K, T; } s{shape.N, shape.blocks * block, shape.T};
            const OwnedTensor W = random_weights(dtype, s.N, s.K, uint32_t(s.N + s.K));
            std::optional<OwnedTensor> I = interleave_for_matmul(W.tensor);
            ASSERT_TRUE(I.has_value()) << name(dtype);
            EXPECT_EQ(I->tensor.layout, Layout::interleaved8);
            EXPECT_EQ(I->tensor.nbytes(), W.tensor.nbytes());
            const std::vector<float> x = random_floats(size_t(s.T * s.K), uint32_t(s.T + 3));
            std::vector<float> y_ref(size_t(s.T * s.N)), y_ref_interleaved(y_ref.size()), y(y_ref.size()),
                y_one(y_ref.size()), y_rows(y_ref.size()), y_best(y_ref.size());
            ref::matmul(W.tensor, x.data(), s.T, y_ref.data());
            ref::matmul(I->tensor, x.data(), s.T, y_ref_interleaved.data());
            EXPECT_EQ(y_ref_interleaved, y_ref) << name(dtype) << ": the interleaved rows are not the file's rows";
            matmul(I->tensor, x.data(), s.T, y_best.data(), &pool);
            for (Isa isa : kLevels) {
                const GemmKernel gemm = isa_supported(isa) ? gemm_kernel(dtype, Layout::interleaved8, isa) : GemmKernel{};
                if (gemm.fn == nullptr) continue;
                const std::string what = fmt::format("{} {} N={} K={} T={}", isa_name(isa), name(dtype), s.N, s.K, s.T);
                matmul_by_gemm(gemm, I->tensor, x.data(), s.T, y.data(), &pool);
                expect_matmul_close(W.tensor, x, s.T, y, y_ref, what);
                if (isa == best_isa()) {
                    EXPECT_EQ(y_best, y) << what << ": matmul did not take this level's GEMM";
                }
                matmul_by_gemm(gemm, I->tensor, x.data(), s.T, y_one.data(), nullptr);
                EXPECT_EQ(y_one, y) << what << ": result depends on the thread count";
                if (gemm.act == ActFormat::q8_32) {
                    matmul_by_gemm(gemm_kernel(dtype, Layout::rows, isa), W.tensor, x.data(), s.T, y_rows.data(), &pool);
                    EXPECT_EQ(y, y_rows) << what << ": differs from the row layout's GEMM";
                } else {
                    const RowDot* dots = row_dot(dtype, isa);
                    ASSERT_EQ(dots->act, ActFormat::q8_256) << what;
                    matmul_with(*dots, W.tensor, x.data(), s.T, y_rows.data(), &pool);
                    expect_matmul_close(W.tensor, x, s.T, y, y_rows, what + " against the row dots", true);
                }
                for (int64_t t = 0; t < s.T; ++t)
                    matmul_by_gemm(gemm, I->tensor, x.data() + t * s.K, 1, y_one.data() + t * s.N, &pool);
                EXPECT_EQ(y_one, y) << what << ": token-by-token result differs from the batched one";
            }
        }
    }
    // No interleaved form: other types, row counts that are not a multiple of 8, and an already
    // interleaved tensor.
    EXPECT_FALSE(interleave_for_matmul(random_weights(DType::q4_0, 12, 64, 1).tensor).has_value());
    EXPECT_FALSE(interleave_for_matmul(random_weights(DType::q5_k, 8, 256, 1).tensor).has_value());
    std::optional<OwnedTensor> I = interleave_for_matmul(random_weights(DType::q8_0, 8, 64, 1).tensor);
    ASSERT_TRUE(I.has_value());
    EXPECT_FALSE(interleave_for_matmul(I->tensor).has_value());
}

// A tied embedding table, interleaved for the output matmul, gives the embedding lookup the
// file's rows, and refuses ids outside it as the file's layout does.
TEST(KernelsFast, GetRowsReadsAnInterleavedTable) {
    if (best_isa() < Isa::avx2) GTEST_SKIP() << "the interleaved layout is made only for the x86 GEMMs";
    ThreadPool pool(2);
    for (DType dtype : kInterleavedTypes) {
        const int64_t D = traits(dtype).block_size * 2;
        const OwnedTensor E = random_weights(dtype, 48, D, 9);
        std::optional<OwnedTensor> I = interleave_for_matmul(E.tensor);
        ASSERT_TRUE(I.has_value()) << name(dtype);
        const int32_t ids[6] = {0, 47, 7, 8, 7, 33};
        std::vector<float> rows(6 * size_t(D)), interleaved(rows.size());
        get_rows(E.tensor, ids, 6, rows.data(), &pool);
        get_rows(I->tensor, ids, 6, interleaved.data(), &pool);
        EXPECT_EQ(interleaved, rows) << name(dtype);
        const int32_t outside = 48;
        EXPECT_THROW(get_rows(I->tensor, &outside, 1, interleaved.data(), nullptr), slm::Error) << name(dtype);
    }
}

// q/k/v and gate/up go through one job: the values are those of one matmul per weight, on the
// row dots, the row tiles and the GEMM, with one dtype and with a mix (q4_k_m's q6_k tensors;
// interleaved q4_k and q6_k share one GEMM job, the row-layout q6_k takes the row dots).
TEST(KernelsFast, MatmulOfWeightsSharingAnInputEqualsOneMatmulEach) {
    ThreadPool pool(2);
    const int64_t K = 512;
    struct Case {
        std::vector<DType> dtypes;
        bool interleave;  // q and k interleaved (rows a multiple of 8), v not
    };
    for (const auto& [dtypes, interleave] : std::vector<Case>{{{DType::bf16, DType::bf16, DType::bf16}, false},
                                                              {{DType::q8_0, DType::q8_0}, false},
                                                              {{DType::q4_k, DType::q4_k, DType::q6_k}, false},
                                                              {{DType::f32, DType::q4_0, DType::f32}, false},
                                                              {{DType::q4_0, DType::q4_0, DType::q4_0}, true},
                                                              {{DType::q4_k, DType::q6_k, DType::q6_k}, true}}) {
        std::vector<OwnedTensor> weights;
        const int64_t rows[] = {interleave ? 72 : 70, interleave ? 16 : 13, 13};
        for (size_t i = 0; i < dtypes.size(); ++i) {
            weights.push_back(random_weights(dtypes[i], rows[i], K, uint32_t(40 + i)));
            if (interleave)
                if (std::optional<OwnedTensor> I = interleave_for_matmul(weights.back().tensor)) weights.back() = std::move(*I);
        }
        for (int64_t T : {1, 3, 8, 17, 40}) {
            const std::vector<float> x = random_floats(size_t(T * K), uint32_t(T));
            std::vector<std::vector<float>> alone(dtypes.size()), together(dtypes.size());
            std::vector<MatmulOut> outs;
            for (size_t i = 0; i < dtypes.size(); ++i) {
                alone[i].resize(size_t(T * rows[i]));
                together[i].resize(size_t(T * rows[i]));
                matmul(weights[i].tensor, x.data(), T, alone[i].data(), &pool);
                outs.push_back({&weights[i].tensor, together[i].data()});
            }
            matmul(outs, x.data(), T, &pool);
            for (size_t i = 0; i < dtypes.size(); ++i) EXPECT_EQ(together[i], alone[i]) << name(dtypes[i]) << " T=" << T << " weight " << i;
        }
    }
    OwnedTensor a = random_weights(DType::f32, 4, 64, 1), b = random_weights(DType::f32, 4, 32, 2);
    std::vector<float> x(64), ya(4), yb(4);
    const MatmulOut mismatched[] = {{&a.tensor, ya.data()}, {&b.tensor, yb.data()}};
    EXPECT_THROW(matmul(mismatched, x.data(), 1, &pool), slm::Error);
}

// The weight types llama-quantize's mixes use (q4_k_m falls back to q5_0/q4_1/iq4_nl-like types
// on rows that are not a multiple of 256) must never take the slow per-row conversion path.
TEST(RowDotTables, EveryLevelHasAKernelForEveryGgufWeightType) {
    for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1,
                    DType::iq4_nl, DType::q4_k, DType::q5_k, DType::q6_k}) {
        for (Isa isa : kLevels) {
            EXPECT_NE(row_dot(t, isa), nullptr) << isa_name(isa) << " " << name(t);
        }
        // The avx512 level has a GEMM wherever AVX2 has one, in both layouts.
        for (Layout layout : {Layout::rows, Layout::interleaved8}) {
            EXPECT_EQ(gemm_kernel(t, layout, Isa::avx512).fn != nullptr, gemm_kernel(t, layout, Isa::avx2).fn != nullptr)
                << name(t);
        }
    }
    EXPECT_EQ(row_dot(DType::nf4, Isa::portable), nullptr);
}

TEST(KernelsFast, GetRowsMatchesReference) {
    ThreadPool pool(2);
    for (DType dtype : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0}) {
        OwnedTensor E = random_weights(dtype, 50, 64, 5);
        const int32_t ids[5] = {0, 49, 7, 7, 23};
        std::vector<float> a(5 * 64), b(5 * 64);
        ref::get_rows(E.tensor, ids, 5, a.data());
        get_rows(E.tensor, ids, 5, b.data(), &pool);
        EXPECT_EQ(a, b) << name(dtype);
    }
}

TEST(KernelsFast, RmsNormMatchesReferenceInPlaceToo) {
    ThreadPool pool(2);
    for (int64_t D : {1, 7, 64, 2048, 2051}) {
        for (int64_t T : {1, 3}) {
            const std::vector<float> x = random_floats(size_t(T * D), uint32_t(D)), w = random_floats(size_t(D), 9);
            std::vector<float> a(x.size()), b = x;
            ref::rms_norm(x.data(), w.data(), T, D, 1e-5f, a.data());
            rms_norm(b.data(), w.data(), T, D, 1e-5f, b.data(), &pool);
            EXPECT_LT(relative_max_error(b, a), 1e-5) << "D=" << D << " T=" << T;
        }
    }
}

// Every combination of present and absent weight and bias, in place too, on rows whose mean is
// several times their spread (where a one-pass variance would cancel) and on one-element rows.
TEST(KernelsFast, LayerNormMatchesReferenceWithAndWithoutAffine) {
    ThreadPool pool(2);
    for (int64_t D : {1, 7, 64, 384, 2051}) {
        for (int64_t T : {1, 3, 40}) {
            std::vector<float> x = random_floats(size_t(T * D), uint32_t(D + T));
            for (size_t i = 0; i < x.size(); ++i) x[i] += float(i / size_t(D) % 4) * 4.0f;
            const std::vector<float> w = random_floats(size_t(D), 9), b = random_floats(size_t(D), 10);
            for (const float* wp : {w.data(), static_cast<const float*>(nullptr)}) {
                for (const float* bp : {b.data(), static_cast<const float*>(nullptr)}) {
                    std::vector<float> a(x.size()), fast = x;
                    ref::layer_norm(x.data(), wp, bp, T, D, 1e-12f, a.data());
                    layer_norm(fast.data(), wp, bp, T, D, 1e-12f, fast.data(), &pool);
                    EXPECT_LT(relative_max_error(fast, a), 1e-5)
                        << "D=" << D << " T=" << T << " w=" << (wp != nullptr) << " b=" << (bp != nullptr);
                }
            }
        }
    }
}

TEST(KernelsFast, RopeMatchesReferenceInBothModes) {
    ThreadPool pool(2);
    for (RopeMode mode : {RopeMode::normal, RopeMode::neox}) {
        for (int64_t Dh : {2, 64, 128}) {
            const int64_t T = 5, H = 3;
            std::vector<float> inv_freq(size_t(Dh / 2));
            for (int64_t i = 0; i < Dh / 2; ++i) inv_freq[size_t(i)] = std::pow(10000.0f, -2.0f * float(i) / float(Dh));
            const int32_t pos[T] = {0, 1, 17, 1000, 32767};
            const std::vector<float> x = random_floats(size_t(T * H * Dh), 11);
            std::vector<float> a = x, b = x;
            ref::rope(a.data(), T, H, Dh, pos, inv_freq.data(), 1.1f, mode);
            std::vector<float> cos_sin(size_t(T * Dh));
            rope_angles(pos, T, Dh, inv_freq.data(), 1.1f, cos_sin.data(), &pool);
            rope(b.data(), T, H, Dh, cos_sin.data(), mode, &pool);
            EXPECT_LT(relative_max_error(b, a), 1e-5) << "Dh=" << Dh;
        }
    }
}

// Partial rotary (Phi-2): the first rot_dim dimensions of each head turn, paired within them;
// the rest of the head is left as it was, and the fast kernel agrees with the reference.
TEST(KernelsFast, PartialRopeRotatesOnlyTheFirstDimensions) {
    ThreadPool pool(2);
    for (RopeMode mode : {RopeMode::normal, RopeMode::neox}) {
        const int64_t T = 4, H = 3, Dh = 32, rot = 16;
        std::vector<float> inv_freq(size_t(rot / 2));
        for (int64_t i = 0; i < rot / 2; ++i) inv_freq[size_t(i)] = std::pow(10000.0f, -2.0f * float(i) / float(rot));
        const int32_t pos[T] = {0, 3, 200, 4095};
        const std::vector<float> x = random_floats(size_t(T * H * Dh), 12);
        std::vector<float> a = x, b = x, whole(size_t(T * H * rot));
        ref::rope(a.data(), T, H, Dh, pos, inv_freq.data(), 1.0f, mode, rot);
        std::vector<float> cos_sin(size_t(T * rot));
        rope_angles(pos, T, rot, inv_freq.data(), 1.0f, cos_sin.data(), &pool);
        rope(b.data(), T, H, Dh, cos_sin.data(), mode, &pool, rot);
        EXPECT_LT(relative_max_error(b, a), 1e-5);
        // The rotated part equals a full rope of heads rot wide; the tail is untouched.
        for (int64_t r = 0; r < T * H; ++r)
            std::copy(x.begin() + r * Dh, x.begin() + r * Dh + rot, whole.begin() + r * rot);
        ref::rope(whole.data(), T, H, rot, pos, inv_freq.data(), 1.0f, mode);
        for (int64_t r = 0; r < T * H; ++r)
            for (int64_t d = 0; d < Dh; ++d)
                ASSERT_EQ(a[size_t(r * Dh + d)], d < rot ? whole[size_t(r * rot + d)] : x[size_t(r * Dh + d)])
                    << "row " << r << " dim " << d;
    }
}

struct AttentionCase {
    int64_t T, H, Hkv, Dh, S;
    int window;
    DType cache;
};

TEST(KernelsFast, AttentionMatchesReference) {
    ThreadPool pool(2);
    for (AttentionCase c : {AttentionCase{1, 4, 4, 64, 1, 0, DType::f32}, AttentionCase{1, 8, 2, 64, 37, 0, DType::f16},
                            AttentionCase{7, 6, 1, 32, 7, 0, DType::f16}, AttentionCase{5, 4, 2, 64, 300, 16, DType::f16},
                            AttentionCase{33, 14, 2, 64, 33, 0, DType::f32},
                            AttentionCase{70, 32, 4, 128, 300, 0, DType::f16}}) {
        const std::vector<float> q = random_floats(size_t(c.T * c.H * c.Dh), 21);
        const std::vector<float> kf = random_floats(size_t(c.S * c.Hkv * c.Dh), 22);
        const std::vector<float> vf = random_floats(size_t(c.S * c.Hkv * c.Dh), 23);
        std::vector<uint16_t> kh(kf.size()), vh(vf.size());
        for (size_t i = 0; i < kf.size(); ++i) kh[i] = f32_to_f16(kf[i]), vh[i] = f32_to_f16(vf[i]);
        const void* k = c.cache == DType::f16 ? static_cast<const void*>(kh.data()) : kf.data();
        const void* v = c.cache == DType::f16 ? static_cast<const void*>(vh.data()) : vf.data();
        // The queries are the last T positions of the cache (a prompt chunk or one decode step).
        std::vector<int32_t> pos(size_t(c.T));
        for (int64_t t = 0; t < c.T; ++t) pos[size_t(t)] = int32_t(c.S - c.T + t);
        const float scale = 1.0f / std::sqrt(float(c.Dh));
        std::vector<float> a(q.size()), b(q.size());
        ref::attention(q.data(), c.T, c.H, c.Hkv, c.Dh, k, v, c.cache, c.S, pos.data(), c.window, scale, a.data());
        attention(q.data(), c.T, c.H, c.Hkv, c.Dh, k, v, c.cache, c.S, pos.data(), c.window, scale, b.data(), &pool);
        EXPECT_LT(relative_max_error(b, a), 1e-4) << "T=" << c.T << " H=" << c.H << " Hkv=" << c.Hkv << " S=" << c.S;
    }
}

// Gemma 2's soft-capped scores, with caps small enough that the tanh bends most scores (queries
// scaled up so that raw scores reach several times the cap), over windows and GQA.
TEST(KernelsFast, SoftCappedAttentionMatchesReference) {
    ThreadPool pool(2);
    for (AttentionCase c : {AttentionCase{1, 4, 2, 16, 40, 8, DType::f32}, AttentionCase{20, 4, 2, 16, 20, 8, DType::f16},
                            AttentionCase{70, 8, 4, 64, 300, 0, DType::f16}}) {
        for (float cap : {1.0f, 3.0f, 50.0f}) {
            const std::vector<float> q = random_floats(size_t(c.T * c.H * c.Dh), 24, 3.0f);
            const std::vector<float> kf = random_floats(size_t(c.S * c.Hkv * c.Dh), 25);
            const std::vector<float> vf = random_floats(size_t(c.S * c.Hkv * c.Dh), 26);
            std::vector<uint16_t> kh(kf.size()), vh(vf.size());
            for (size_t i = 0; i < kf.size(); ++i) kh[i] = f32_to_f16(kf[i]), vh[i] = f32_to_f16(vf[i]);
            const void* k = c.cache == DType::f16 ? static_cast<const void*>(kh.data()) : kf.data();
            const void* v = c.cache == DType::f16 ? static_cast<const void*>(vh.data()) : vf.data();
            std::vector<int32_t> pos(size_t(c.T));
            for (int64_t t = 0; t < c.T; ++t) pos[size_t(t)] = int32_t(c.S - c.T + t);
            const float scale = 1.0f / std::sqrt(24.0f);  // query_pre_attn_scalar 24, not head_dim
            std::vector<float> a(q.size()), b(q.size()), uncapped(q.size());
            ref::attention(q.data(), c.T, c.H, c.Hkv, c.Dh, k, v, c.cache, c.S, pos.data(), c.window, scale, a.data(), cap);
            attention(q.data(), c.T, c.H, c.Hkv, c.Dh, k, v, c.cache, c.S, pos.data(), c.window, scale, b.data(), &pool,
                      cap);
            EXPECT_LT(relative_max_error(b, a), 1e-4) << "T=" << c.T << " S=" << c.S << " cap=" << cap;
            ref::attention(q.data(), c.T, c.H, c.Hkv, c.Dh, k, v, c.cache, c.S, pos.data(), c.window, scale,
                           uncapped.data());
            if (cap < 10) {
                EXPECT_GT(relative_max_error(uncapped, a), 1e-2) << "the cap changed nothing, cap=" << cap;
            }
        }
    }
}

// Each level's attention tile loops against the portable ones, on shapes that are not multiples
// of the AVX2 kernels' 6 x 16 blocks or 8 x 8 transposes.
TEST(AttentionTileOps, EveryLevelMatchesPortable) {
    if (!isa_supported(Isa::avx2)) GTEST_SKIP() << "no AVX2 on this CPU";
    const AttentionTileOps& fast = attention_tile_ops(Isa::avx2);
    const AttentionTileOps& slow = attention_tile_ops(Isa::portable);
    for (int64_t rows : {1, 5, 6, 13, 80}) {
        for (int64_t K : {1, 32, 61}) {
            for (int64_t W : {3, 8, 24, 40, 72}) {
                for (bool accumulate : {false, true}) {
                    const int64_t lda = K + 3, ldb = W + 5, ldc = W + 2;
                    const std::vector<float> a = random_floats(size_t(rows * lda), 41), b = random_floats(size_t(K * ldb), 42);
                    const std::vector<float> c0 = random_floats(size_t(rows * ldc), 43);
                    std::vector<float> c_fast = c0, c_slow = c0, c_last = c0;
                    fast.product(c_fast.data(), ldc, a.data(), lda, b.data(), ldb, rows, K, W, accumulate);
                    slow.product(c_slow.data(), ldc, a.data(), lda, b.data(), ldb, rows, K, W, accumulate);
                    EXPECT_LT(relative_max_error(c_fast, c_slow), 1e-5) << rows << "x" << K << "x" << W << " accumulate " << accumulate;
                    // A row's values do not depend on the rows computed with it (batch invariance).
                    fast.product(c_last.data() + (rows - 1) * ldc, ldc, a.data() + (rows - 1) * lda, lda, b.data(), ldb, 1, K, W, accumulate);
                    for (int64_t i = 0; i < W; ++i) ASSERT_EQ(c_last[size_t((rows - 1) * ldc + i)], c_fast[size_t((rows - 1) * ldc + i)]);
                }
            }
        }
    }
    for (int64_t n : {1, 7, 8, 37, 64}) {
        for (int64_t D : {5, 32, 64, 72}) {
            const std::vector<float> rows = random_floats(size_t(n * D), 44);
            std::vector<float> t_fast(size_t(D * 64), 99.0f), t_slow = t_fast;
            fast.transpose(rows.data(), n, D, t_fast.data(), 64);
            slow.transpose(rows.data(), n, D, t_slow.data(), 64);
            EXPECT_EQ(t_fast, t_slow) << "n=" << n << " D=" << D;
            EXPECT_EQ(t_slow[size_t((D - 1) * 64 + n - 1)], rows[size_t((n - 1) * D + D - 1)]);
            if (n % 8) {
                EXPECT_EQ(t_slow[size_t(n)], 0.0f) << "padding up to a multiple of 8";
            }
        }
    }
    for (float running : {-INFINITY, 0.5f, 9.0f}) {
        for (auto [lo, hi] : {std::pair<int64_t, int64_t>{0, 63}, {0, 0}, {3, 17}, {9, 63}, {60, 62}}) {
            std::vector<float> s_fast = random_floats(65, 45, 4.0f), s_slow = s_fast;
            float m_fast = running, m_slow = running;
            const float sum_fast = fast.exponentiate(s_fast.data(), lo, hi, 64, &m_fast);
            const float sum_slow = slow.exponentiate(s_slow.data(), lo, hi, 64, &m_slow);
            EXPECT_EQ(m_fast, m_slow);
            EXPECT_NEAR(sum_fast, sum_slow, 1e-5 * sum_slow);
            EXPECT_LT(relative_max_error(s_fast, s_slow), 1e-6) << "keys " << lo << ".." << hi;
            EXPECT_EQ(s_fast[size_t(hi + 1)], hi < 63 ? 0.0f : s_slow[64]) << "0 outside the range, untouched past n";
        }
    }
}

TEST(KernelsFast, SiluMulSoftmaxAddMatchReference) {
    ThreadPool pool(2);
    for (int64_t n : {1, 15, 5632, 10001}) {
        const std::vector<float> g = random_floats(size_t(n), 31, 4.0f), u = random_floats(size_t(n), 32);
        std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
        ref::silu_mul(g.data(), u.data(), n, a.data());
        silu_mul(g.data(), u.data(), n, b.data(), &pool);
        EXPECT_LT(relative_max_error(b, a), 1e-5) << "n=" << n;

        std::vector<float> s1 = random_floats(size_t(n) * 2, 33, 5.0f), s2 = s1;
        ref::softmax(s1.data(), 2, n);
        softmax(s2.data(), 2, n);
        EXPECT_LT(relative_max_error(s2, s1), 1e-5) << "n=" << n;

        std::vector<float> y = g;
        add(y.data(), u.data(), n);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[size_t(i)], g[size_t(i)] + u[size_t(i)]);
    }
    std::vector<float> y = {1, 2, 3, 4, 5, 6};
    multiply(y.data(), 6, 0.5f);
    EXPECT_EQ(y, (std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3}));
    y = {1, 2, 3, 4, 5, 6};
    const float bias[3] = {10, 20, 30};
    add_bias(y.data(), bias, 2, 3);
    EXPECT_EQ(y, (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

// GeGLU's gated products, the ungated GELUs and soft-capping against the double-precision
// references, over the range where tanh and erf bend and saturate (|x| up to ~20) and sizes that
// split over the pool.
TEST(KernelsFast, GeluMulAndSoftcapMatchReference) {
    ThreadPool pool(2);
    for (int64_t n : {1, 15, 5632, 10001}) {
        const std::vector<float> g = random_floats(size_t(n), 34, 4.0f), u = random_floats(size_t(n), 35);
        std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
        ref::gelu_tanh_mul(g.data(), u.data(), n, a.data());
        gelu_tanh_mul(g.data(), u.data(), n, b.data(), &pool);
        EXPECT_LT(relative_max_error(b, a), 1e-6) << "gelu_tanh n=" << n;
        ref::gelu_mul(g.data(), u.data(), n, a.data());
        gelu_mul(g.data(), u.data(), n, b.data(), &pool);
        EXPECT_LT(relative_max_error(b, a), 1e-6) << "gelu n=" << n;

        ref::gelu_tanh(g.data(), n, a.data());
        gelu_tanh(g.data(), n, b.data(), &pool);
        EXPECT_LT(relative_max_error(b, a), 1e-6) << "gelu_tanh (ungated) n=" << n;
        ref::gelu(g.data(), n, a.data());
        b = g;
        gelu(b.data(), n, b.data(), &pool);  // in place, as the encoder's feed-forward calls it
        EXPECT_LT(relative_max_error(b, a), 1e-6) << "gelu (ungated) n=" << n;

        for (float cap : {2.5f, 30.0f}) {
            std::vector<float> x1 = random_floats(size_t(n), 36, 5.0f), x2 = x1;
            ref::softcap(x1.data(), n, cap);
            softcap(x2.data(), n, cap, &pool);
            EXPECT_LT(relative_max_error(x2, x1), 1e-6) << "softcap n=" << n << " cap=" << cap;
            for (float v : x2) ASSERT_LE(std::abs(v), cap);
        }
    }
}

}  // namespace
}  // namespace slm::kernels
