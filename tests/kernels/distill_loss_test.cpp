// The distillation loss (train_ops.h distill_loss): its reference against values worked by hand
// and against central finite differences of its own loss, alpha = 0 against cross_entropy, a
// teacher equal to the student, and the fast kernel against the reference for dense and top-k
// teachers (renormalized, or exact with the teacher's lse and a tail bucket), whatever the thread
// count; the bucketed KL against one built by hand from the teacher's whole distribution.
#include <slm/error.h>
#include <slm/thread_pool.h>
#include <slm/train_ops.h>

#include "kernels/random_data.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace slm::kernels {
namespace {

using test::random_floats;

// Random teacher rows: dense [T, ld] (ids empty) or top-k with k distinct random ids per row,
// and with lse (not empty) each row's log-sum-exp over the teacher's whole vocabulary.
struct Teacher {
    std::vector<float> logits;
    std::vector<int32_t> ids;
    int64_t k = 0, ld = 0;
    std::vector<float> lse;
    TeacherLogits view() const {
        return {logits.data(), ids.empty() ? nullptr : ids.data(), k, ld, lse.empty() ? nullptr : lse.data()};
    }
};

Teacher random_teacher(int64_t T, int64_t V, int64_t k, bool top_k, uint32_t seed) {
    Teacher teacher;
    teacher.k = k;
    teacher.ld = top_k ? 0 : k + 3;  // a stride wider than k: only the first k of a row are read
    teacher.logits = random_floats(size_t(T * (top_k ? k : teacher.ld)), seed, 3.0f);
    if (top_k) {
        std::mt19937 rng(seed);
        std::vector<int32_t> all(static_cast<size_t>(V));
        std::iota(all.begin(), all.end(), 0);
        for (int64_t t = 0; t < T; ++t) {
            std::shuffle(all.begin(), all.end(), rng);
            teacher.ids.insert(teacher.ids.end(), all.begin(), all.begin() + k);
        }
    }
    return teacher;
}

// log sum_i e^(x_i / tau) over a row, in double.
double log_sum_exp_of(const float* x, int64_t n, double tau) {
    double max_x = -INFINITY;
    for (int64_t i = 0; i < n; ++i) max_x = std::max(max_x, double(x[i]) / tau);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) / tau - max_x);
    return max_x + std::log(sum);
}

// A teacher over the whole vocabulary (dense: [T, V]) and the same teacher as distill_loss gets
// it from a top-k cache: k of its logits per row (random distinct ids, or its k largest when
// `largest`) plus each row's log-sum-exp at tau.
struct WholeTeacher {
    std::vector<float> dense;
    Teacher given;
};

WholeTeacher bucketed_teacher(int64_t T, int64_t V, int64_t k, float tau, uint32_t seed, bool largest = false) {
    WholeTeacher w;
    w.dense = random_floats(size_t(T * V), seed, 3.0f);
    w.given = random_teacher(T, V, k, true, seed + 1);
    for (int64_t t = 0; t < T; ++t) {
        const float* row = w.dense.data() + t * V;
        int32_t* ids = w.given.ids.data() + t * k;
        if (largest) {
            std::vector<int32_t> order(static_cast<size_t>(V));
            std::iota(order.begin(), order.end(), 0);
            std::partial_sort(order.begin(), order.begin() + k, order.end(),
                              [&](int32_t a, int32_t b) { return row[a] > row[b]; });
            std::copy(order.begin(), order.begin() + k, ids);
        }
        for (int64_t j = 0; j < k; ++j) w.given.logits[size_t(t * k + j)] = row[ids[j]];
        w.given.lse.push_back(float(log_sum_exp_of(row, V, tau)));
    }
    return w;
}

std::vector<int32_t> random_targets(int64_t T, int64_t V, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> targets(static_cast<size_t>(T));
    for (auto& t : targets) t = rng() % 4 == 0 ? -1 : int32_t(rng() % uint32_t(V));
    return targets;
}

// The loss the gradient is of: (1 - alpha) CE + alpha tau^2 KL.
double weighted(const DistillSums& s, float alpha, float tau) {
    return (1.0 - alpha) * s.ce + double(alpha) * double(tau) * double(tau) * s.kl;
}

TEST(DistillLoss, ReferenceMatchesValuesWorkedByHand) {
    // z = (0, 2 ln 3, 2 ln 4): softmax(z) = (1, 9, 16) / 26, softmax(z / 2) = (1, 3, 4) / 8.
    // Dense teacher (2 ln 2, 0, 0) at tau = 2: p = (2, 1, 1) / 4. Top-k teacher {0: 2 ln 2, 1: 0}:
    // p = (2, 1, 0) / 3. Target 1, alpha = 0.25, grad_scale = 0.5.
    const float z[3] = {0.0f, float(2 * std::log(3.0)), float(2 * std::log(4.0))};
    const float dense[3] = {float(2 * std::log(2.0)), 0.0f, 0.0f};
    const int32_t ids[2] = {0, 1}, target = 1;
    const double soft[3] = {1 / 26.0, 9 / 26.0, 16 / 26.0}, q[3] = {1 / 8.0, 3 / 8.0, 4 / 8.0};
    struct Case {
        TeacherLogits teacher;
        double p[3];
    };
    for (const Case& c :
         {Case{{dense, nullptr, 3, 3}, {0.5, 0.25, 0.25}}, Case{{dense, ids, 2, 0}, {2 / 3.0, 1 / 3.0, 0}}}) {
        double kl = 0;
        for (int i = 0; i < 3; ++i)
            if (c.p[i] > 0) kl += c.p[i] * std::log(c.p[i] / q[i]);
        for (bool fast : {false, true}) {
            std::vector<float> g(z, z + 3);
            const DistillSums sums = fast ? distill_loss(g.data(), &target, c.teacher, 1, 3, 0.25f, 2.0f, 0.5f, nullptr)
                                          : ref::distill_loss(g.data(), &target, c.teacher, 1, 3, 0.25f, 2.0f, 0.5f);
            const std::string what = fmt::format("{} k={}", fast ? "fast" : "ref", c.teacher.k);
            EXPECT_NEAR(sums.ce, std::log(26.0 / 9.0), 1e-6) << what;
            EXPECT_NEAR(sums.kl, kl, 1e-6) << what;
            for (int i = 0; i < 3; ++i) {
                const double expected = 0.5 * (0.75 * (soft[i] - (i == target)) + 0.25 * 2.0 * (q[i] - c.p[i]));
                EXPECT_NEAR(g[size_t(i)], expected, 1e-6) << what << " gradient " << i;
            }
        }
    }
}

TEST(DistillLoss, ReferenceGradientIsTheLossDerivative) {
    struct Case {
        int64_t T, V, k;
        bool top_k;
        float alpha, tau;
        bool no_targets;
        bool lse = false;  // top-k with the teacher's log-sum-exp: the bucketed KL
    };
    for (const Case& c : {Case{2, 5, 5, false, 0.5f, 2.0f, false}, Case{3, 7, 3, true, 0.7f, 0.5f, false},
                          Case{2, 6, 4, false, 1.0f, 1.0f, true}, Case{1, 9, 2, true, 0.1f, 4.0f, false},
                          Case{3, 7, 3, true, 0.7f, 0.5f, false, true}, Case{2, 9, 4, true, 1.0f, 1.0f, true, true},
                          Case{2, 6, 6, true, 0.4f, 2.0f, false, true}, Case{1, 11, 1, true, 0.6f, 3.0f, false, true}}) {
        const Teacher teacher = c.lse ? bucketed_teacher(c.T, c.V, c.k, c.tau, 11).given
                                      : random_teacher(c.T, c.V, c.k, c.top_k, 11);
        const std::vector<int32_t> targets = random_targets(c.T, c.V, 12);
        const int32_t* tp = c.no_targets ? nullptr : targets.data();
        const std::vector<float> z = random_floats(size_t(c.T * c.V), 13, 2.0f);
        std::vector<float> grad = z;
        ref::distill_loss(grad.data(), tp, teacher.view(), c.T, c.V, c.alpha, c.tau, 1.0f);
        auto loss = [&](const std::vector<float>& x) {
            std::vector<float> scratch = x;
            return weighted(ref::distill_loss(scratch.data(), tp, teacher.view(), c.T, c.V, c.alpha, c.tau, 1.0f),
                            c.alpha, c.tau);
        };
        for (size_t i = 0; i < z.size(); ++i) {
            std::vector<float> plus = z, minus = z;
            plus[i] += 1e-3f;
            minus[i] -= 1e-3f;
            const double numeric = (loss(plus) - loss(minus)) / (double(plus[i]) - double(minus[i]));
            EXPECT_NEAR(grad[i], numeric, 1e-5 + 1e-4 * std::fabs(numeric))
                << fmt::format("T={} V={} k={} alpha={} tau={} lse={} logit {}", c.T, c.V, c.k, c.alpha, c.tau, c.lse,
                               i);
        }
    }
}

TEST(DistillLoss, AlphaZeroIsCrossEntropy) {
    const int64_t T = 4, V = 301;
    const std::vector<int32_t> targets = {5, -1, 300, 0};
    const Teacher teacher = random_teacher(T, V, 17, true, 21);
    std::vector<float> z = random_floats(size_t(T * V), 22, 3.0f);
    z[7] += 50.0f;
    for (float tau : {1.0f, 3.0f}) {
        std::vector<float> ce = z, ce_ref = z, d = z, d_ref = z;
        const double ce_sum = cross_entropy(ce.data(), targets.data(), T, V, 0.5f, nullptr, nullptr);
        const double ce_ref_sum = ref::cross_entropy(ce_ref.data(), targets.data(), T, V, 0.5f, nullptr);
        const DistillSums sums = distill_loss(d.data(), targets.data(), teacher.view(), T, V, 0.0f, tau, 0.5f, nullptr);
        const DistillSums sums_ref =
            ref::distill_loss(d_ref.data(), targets.data(), teacher.view(), T, V, 0.0f, tau, 0.5f);
        EXPECT_EQ(sums.ce, ce_sum) << "tau " << tau;
        EXPECT_EQ(sums_ref.ce, ce_ref_sum) << "tau " << tau;
        EXPECT_EQ(d, ce) << "tau " << tau;
        EXPECT_EQ(d_ref, ce_ref) << "tau " << tau;
        EXPECT_GT(sums.kl, 0.0);  // still measured, with no weight in the gradient
    }
}

TEST(DistillLoss, TeacherEqualToStudentHasNoKl) {
    const int64_t T = 3, V = 50;
    const std::vector<float> z = random_floats(size_t(T * V), 31, 4.0f);
    for (float tau : {0.5f, 1.0f, 2.0f}) {
        for (bool fast : {false, true}) {
            std::vector<float> g = z;
            const TeacherLogits teacher{z.data(), nullptr, V, V};
            const DistillSums sums = fast ? distill_loss(g.data(), nullptr, teacher, T, V, 1.0f, tau, 1.0f, nullptr)
                                          : ref::distill_loss(g.data(), nullptr, teacher, T, V, 1.0f, tau, 1.0f);
            EXPECT_EQ(sums.ce, 0.0);
            EXPECT_NEAR(sums.kl, 0.0, 1e-6) << (fast ? "fast" : "ref") << " tau " << tau;
            for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], 0.0f, 1e-6f) << "gradient " << i;
        }
    }
}

TEST(DistillLoss, FastMatchesReference) {
    ThreadPool two(2);
    struct Case {
        int64_t T, V, k;
        bool top_k;
        float alpha, tau;
        bool lse = false;  // top-k with the teacher's log-sum-exp: the bucketed KL
    };
    for (const Case& c :
         {Case{1, 1, 1, false, 0.5f, 1.0f}, Case{5, 1000, 1000, false, 0.5f, 2.0f}, Case{7, 333, 100, false, 0.9f, 1.0f},
          Case{6, 1001, 20, true, 0.3f, 0.7f}, Case{3, 32000, 64, true, 1.0f, 4.0f}, Case{9, 17, 17, true, 0.0f, 1.5f},
          Case{1, 1, 1, true, 0.5f, 1.0f, true}, Case{6, 1001, 20, true, 0.3f, 0.7f, true},
          Case{3, 32000, 64, true, 1.0f, 2.0f, true}, Case{9, 17, 17, true, 0.6f, 1.5f, true},
          Case{7, 333, 100, true, 0.9f, 1.0f, true}, Case{5, 259, 3, true, 0.5f, 1.0f, true}}) {
        Teacher teacher = c.lse ? bucketed_teacher(c.T, c.V, c.k, c.tau, 41, c.T == 3).given
                                : random_teacher(c.T, c.V, c.k, c.top_k, 41);
        if (c.T == 7 || c.T == 6)  // masked tokens: probability 0, no KL term
            for (size_t i = 3; i < teacher.logits.size(); i += 11) teacher.logits[i] = -INFINITY;
        const std::vector<int32_t> targets = random_targets(c.T, c.V, 42);
        std::vector<float> z = random_floats(size_t(c.T * c.V), 43, 3.0f);
        z[0] += 60.0f;  // large logits: the max must be subtracted
        if (c.lse && c.T == 5)  // a student sure of the teacher's ids: a tail mass near e^-40
            for (int64_t j = 0; j < c.k; ++j) z[size_t(c.V + teacher.ids[size_t(c.k + j)])] += 40.0f;
        const std::string what = fmt::format("T={} V={} k={} top_k={} alpha={} tau={} lse={}", c.T, c.V, c.k,
                                             c.top_k, c.alpha, c.tau, c.lse);
        std::vector<float> g_ref = z;
        const DistillSums r =
            ref::distill_loss(g_ref.data(), targets.data(), teacher.view(), c.T, c.V, c.alpha, c.tau, 0.25f);
        std::vector<float> first;
        DistillSums first_sums;
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &two}) {
            std::vector<float> g = z;
            const DistillSums s =
                distill_loss(g.data(), targets.data(), teacher.view(), c.T, c.V, c.alpha, c.tau, 0.25f, pool);
            EXPECT_NEAR(s.ce, r.ce, 1e-5 * std::fabs(r.ce) + 1e-6) << what;
            EXPECT_NEAR(s.kl, r.kl, 1e-5 * std::fabs(r.kl) + 1e-5 * double(c.T)) << what;
            for (size_t i = 0; i < g.size(); ++i)
                if (std::fabs(g[i] - g_ref[i]) > 1e-6f * 0.25f + 1e-5f * std::fabs(g_ref[i])) {
                    ADD_FAILURE() << what << " gradient " << i << ": " << g[i] << " vs " << g_ref[i];
                    break;
                }
            if (pool == nullptr) {
                first = g;
                first_sums = s;
            } else {  // the thread count changes nothing
                EXPECT_EQ(g, first) << what;
                EXPECT_EQ(s.ce, first_sums.ce) << what;
                EXPECT_EQ(s.kl, first_sums.kl) << what;
            }
        }
    }
}

// The KL over the k given ids plus the tail bucket, from the teacher's whole row: p and q the
// true softmaxes at tau, r and q_r the mass each puts outside the ids.
double bucketed_kl_by_hand(const float* teacher, const float* z, int64_t V, const int32_t* ids, int64_t k,
                           double tau) {
    const double log_zt = log_sum_exp_of(teacher, V, tau), log_zs = log_sum_exp_of(z, V, tau);
    std::vector<bool> in_top(static_cast<size_t>(V));
    for (int64_t j = 0; j < k; ++j) in_top[size_t(ids[j])] = true;
    double kl = 0, r = 0, q_r = 0;
    for (int64_t i = 0; i < V; ++i) {
        const double p = std::exp(double(teacher[i]) / tau - log_zt), q = std::exp(double(z[i]) / tau - log_zs);
        if (!in_top[size_t(i)]) {
            r += p;
            q_r += q;
        } else if (p > 0) {
            kl += p * std::log(p / q);
        }
    }
    return r > 0 ? kl + r * std::log(r / q_r) : kl;
}

TEST(DistillLoss, BucketedKlIsTheKlOverTheTopKAndTheTail) {
    const int64_t T = 4, V = 517;
    const std::vector<float> z = random_floats(size_t(T * V), 51, 2.0f);
    for (float tau : {1.0f, 2.0f}) {
        for (int64_t k : {1, 16, 200}) {
            const WholeTeacher teacher = bucketed_teacher(T, V, k, tau, 52, /*largest=*/k == 16);
            double by_hand = 0, dense_kl = 0;
            for (int64_t t = 0; t < T; ++t) {
                by_hand += bucketed_kl_by_hand(teacher.dense.data() + t * V, z.data() + t * V, V,
                                               teacher.given.ids.data() + t * k, k, tau);
                std::vector<int32_t> all(static_cast<size_t>(V));
                std::iota(all.begin(), all.end(), 0);
                dense_kl += bucketed_kl_by_hand(teacher.dense.data() + t * V, z.data() + t * V, V, all.data(), V, tau);
            }
            EXPECT_LE(by_hand, dense_kl + 1e-12) << "a lower bound of the full KL";
            for (bool fast : {false, true}) {
                std::vector<float> g = z;
                const TeacherLogits view = teacher.given.view();
                const DistillSums sums = fast ? distill_loss(g.data(), nullptr, view, T, V, 1.0f, tau, 1.0f, nullptr)
                                              : ref::distill_loss(g.data(), nullptr, view, T, V, 1.0f, tau, 1.0f);
                EXPECT_NEAR(sums.kl, by_hand, 1e-5 * by_hand + 1e-6)
                    << (fast ? "fast" : "ref") << " tau=" << tau << " k=" << k;
            }
        }
    }
}

TEST(DistillLoss, BucketedWithEveryIdIsTheDenseLoss) {
    // k = V in a shuffled order with the true lse: no tail, p exact, so the dense teacher's loss.
    const int64_t T = 5, V = 203;
    const std::vector<int32_t> targets = random_targets(T, V, 61);
    const std::vector<float> z = random_floats(size_t(T * V), 62, 3.0f);
    for (float tau : {1.0f, 0.5f, 3.0f}) {
        const WholeTeacher teacher = bucketed_teacher(T, V, V, tau, 63);
        const TeacherLogits dense{teacher.dense.data(), nullptr, V, V};
        for (bool fast : {false, true}) {
            std::vector<float> g = z, g_dense = z;
            const auto run = [&](std::vector<float>& x, const TeacherLogits& view) {
                return fast ? distill_loss(x.data(), targets.data(), view, T, V, 0.6f, tau, 0.5f, nullptr)
                            : ref::distill_loss(x.data(), targets.data(), view, T, V, 0.6f, tau, 0.5f);
            };
            const DistillSums s = run(g, teacher.given.view()), d = run(g_dense, dense);
            const std::string what = fmt::format("{} tau={}", fast ? "fast" : "ref", tau);
            EXPECT_EQ(s.ce, d.ce) << what;
            EXPECT_NEAR(s.kl, d.kl, 1e-5 * d.kl + 1e-6) << what;
            for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], g_dense[i], 1e-6f) << what << " gradient " << i;
        }
    }
}

TEST(DistillLoss, BucketedRowWithAllTheMassInTheTopKIsRenormalized) {
    // The teacher's other logits are -inf: its top k hold all the mass (r = 0), so the exact
    // probabilities are the renormalized ones and both forms give one loss; the tail's gradient
    // is the student's alone (alpha tau q_j).
    const int64_t T = 3, V = 300, k = 8;
    const float tau = 2.0f;
    WholeTeacher teacher = bucketed_teacher(T, V, k, tau, 71, /*largest=*/true);
    Teacher renormalized = teacher.given;
    renormalized.lse.clear();
    for (int64_t t = 0; t < T; ++t)
        teacher.given.lse[size_t(t)] = float(log_sum_exp_of(teacher.given.logits.data() + t * k, k, tau));
    const std::vector<float> z = random_floats(size_t(T * V), 72, 2.0f);
    for (bool fast : {false, true}) {
        std::vector<float> g = z, g_renormalized = z;
        const auto run = [&](std::vector<float>& x, const TeacherLogits& view) {
            return fast ? distill_loss(x.data(), nullptr, view, T, V, 1.0f, tau, 1.0f, nullptr)
                        : ref::distill_loss(x.data(), nullptr, view, T, V, 1.0f, tau, 1.0f);
        };
        const DistillSums s = run(g, teacher.given.view()), r = run(g_renormalized, renormalized.view());
        const char* what = fast ? "fast" : "ref";
        EXPECT_TRUE(std::isfinite(s.kl)) << what;
        EXPECT_NEAR(s.kl, r.kl, 1e-5 * r.kl + 1e-6) << what;
        for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], g_renormalized[i], 1e-6f) << what << " gradient " << i;
    }
}

TEST(DistillLoss, RejectsIdsAndArgumentsOutsideTheirRange) {
    const int64_t T = 2, V = 8;
    std::vector<float> z(size_t(T * V), 0.5f);
    const std::vector<float> t(4, 1.0f);
    const std::vector<int32_t> targets = {1, 2};
    auto message = [&](const TeacherLogits& teacher, const int32_t* tg, float alpha, float tau, bool fast) {
        std::vector<float> g = z;
        try {
            if (fast)
                distill_loss(g.data(), tg, teacher, T, V, alpha, tau, 1.0f, nullptr);
            else
                ref::distill_loss(g.data(), tg, teacher, T, V, alpha, tau, 1.0f);
        } catch (const Error& e) {
            EXPECT_EQ(g, z) << "the logits were written before the check";
            return std::string(e.what());
        }
        return std::string("no error");
    };
    for (bool fast : {false, true}) {
        const std::vector<int32_t> past_end = {0, 1, 8, 2}, negative = {0, -1, 2, 3};
        EXPECT_NE(message({t.data(), past_end.data(), 2, 0}, targets.data(), 0.5f, 1.0f, fast)
                      .find("teacher id 8 (row 1, entry 0)"),
                  std::string::npos);
        EXPECT_NE(message({t.data(), negative.data(), 2, 0}, targets.data(), 0.5f, 1.0f, fast).find("teacher id -1"),
                  std::string::npos);
        const std::vector<int32_t> bad_target = {1, 8};
        EXPECT_NE(message({t.data(), nullptr, 2, 2}, bad_target.data(), 0.5f, 1.0f, fast).find("target 8 of row 1"),
                  std::string::npos);
        EXPECT_NE(message({t.data(), nullptr, 9, 9}, nullptr, 0.5f, 1.0f, fast).find("9 logits per row"),
                  std::string::npos);
        EXPECT_NE(message({t.data(), nullptr, 2, 1}, nullptr, 0.5f, 1.0f, fast).find("stride 1"), std::string::npos);
        EXPECT_NE(message({t.data(), nullptr, 2, 2}, nullptr, 1.5f, 1.0f, fast).find("alpha is 1.5"),
                  std::string::npos);
        EXPECT_NE(message({t.data(), nullptr, 2, 2}, nullptr, 0.5f, 0.0f, fast).find("temperature is 0"),
                  std::string::npos);
        EXPECT_NE(message({t.data(), nullptr, 2, 2}, nullptr, 0.5f, NAN, fast).find("temperature is nan"),
                  std::string::npos);
        const std::vector<float> lse = {1.0f, 2.0f}, bad_lse = {1.0f, INFINITY};
        const std::vector<int32_t> ids = {0, 1, 2, 3};
        EXPECT_NE(message({t.data(), nullptr, 2, 2, lse.data()}, nullptr, 0.5f, 1.0f, fast).find("dense teacher"),
                  std::string::npos);
        EXPECT_NE(message({t.data(), ids.data(), 2, 0, bad_lse.data()}, nullptr, 0.5f, 1.0f, fast)
                      .find("log-sum-exp (lse) of row 1 is inf"),
                  std::string::npos);
    }
}

}  // namespace
}  // namespace slm::kernels
