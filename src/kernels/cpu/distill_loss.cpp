// Fast distillation loss, per row: one max; the student's tempered exponentials into a scratch
// row; the teacher's exponentials (k of them) and the KL, read while the logits are intact; with
// a teacher lse, one more pass summing the student's tail; the plain exponentials over the logits
// as cross_entropy computes them (so alpha = 0 gives its exact values); then one pass that blends
// both softmaxes into the gradient. Every exponential over V is fast_exp in vectorized passes;
// logs and the sums of terms are in double. Rows spread over the pool; each row's terms are kept
// and summed in row order in double.
#include <slm/train_ops.h>

#include "kernels/cpu/distill_teacher.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/softmax_row.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace slm::kernels {
namespace {

// The sum of x[0, n) in eight float lanes, then in double (as exp_sum sums).
double row_sum(const float* x, int64_t n) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) lanes[l] += x[i + l];
    double sum = 0;
    for (float s : lanes) sum += double(s);
    for (; i < n; ++i) sum += double(x[i]);
    return sum;
}

struct RowScratch {
    std::vector<float> student_exp;  // [V] e^((z - max) / tau)
    std::vector<float> teacher_exp;  // [k] e^((t - max) / tau), or with lse the probabilities p
    std::vector<float> top_exp;      // [k] with lse: e^((z - max) / tau) and e^(z - max) of the
    std::vector<float> top_plain;    //     teacher's ids, kept while their slots are overwritten
};

// One row of the teacher: k logits, their ids (null: dense) and its lse (null: renormalized).
struct TeacherRow {
    const float* logits;
    const int32_t* ids;
    int64_t k;
    const float* lse;
};

// One row's CE (0 when target < 0) and KL; the row becomes the gradient.
DistillSums distill_row(float* z, int64_t V, int32_t target, const TeacherRow& teacher, float alpha, float tau,
                        float grad_scale, RowScratch& scratch) {
    const float* t_logits = teacher.logits;
    const int32_t* ids = teacher.ids;
    const int64_t k = teacher.k;
    const float inv_tau = 1.0f / tau;
    const float max_z = row_max(z, V);
    const float target_logit = target >= 0 ? z[target] : 0.0f;
    // At tau = 1 both softmaxes are one: student_exp then holds the plain exponentials.
    const bool tempered = tau != 1.0f;
    float* e_tau = scratch.student_exp.data();
    const double sum_tau = exp_sum(z, V, max_z, tempered ? inv_tau : 1.0f, e_tau);
    const double inv_tau_d = 1.0 / double(tau);

    // Without lse the teacher's exponentials (over its k logits) into e_t; with lse its exact
    // probabilities go there in the loop below.
    float* e_t = scratch.teacher_exp.data();
    const bool bucketed = teacher.lse != nullptr;
    const float max_t = bucketed ? 0.0f : row_max(t_logits, k);
    const double sum_t = bucketed ? 1.0 : exp_sum(t_logits, k, max_t, inv_tau, e_t);

    // KL = sum_j p_j (log p_j - log q_j), the logs from the max-shifted logits in double, read
    // while z is intact; with lse, p_j = e^(t_j / tau - lse) in double (k is small). A teacher
    // logit of -inf (a masked token) has p_j = 0 and no term; fast_exp's clamp would leave it
    // 1e-38, times an infinite log.
    DistillSums row;
    const double log_sum_tau = std::log(sum_tau), log_sum_t = bucketed ? 0.0 : std::log(sum_t);
    double p_top = 0;
    for (int64_t j = 0; j < k; ++j) {
        const double log_p = bucketed ? double(t_logits[j]) * inv_tau_d - double(*teacher.lse)
                                      : (double(t_logits[j]) - double(max_t)) * inv_tau_d - log_sum_t;
        const double log_q = (double(z[ids != nullptr ? ids[j] : j]) - double(max_z)) * inv_tau_d - log_sum_tau;
        if (t_logits[j] == -INFINITY) {
            e_t[j] = 0.0f;
            continue;
        }
        const double p = bucketed ? std::exp(log_p) : double(e_t[j]) / sum_t;
        if (bucketed) e_t[j] = float(p);
        p_top += p;
        row.kl += p * (log_p - log_q);
    }

    // With lse, the tail bucket: the student's tail mass summed from its own exponentials (the
    // top slots zeroed first; 1 - sum of the top q's would cancel), against the teacher's r.
    // The top slots stay zero: their gradient is written whole after the blend.
    double r = 0, tail_sum = 0;
    if (bucketed) {
        for (int64_t j = 0; j < k; ++j) {
            scratch.top_exp[size_t(j)] = e_tau[ids[j]];
            e_tau[ids[j]] = 0.0f;
        }
        if (k < V) {
            tail_sum = row_sum(e_tau, V);
            r = std::max(0.0, 1.0 - p_top);
            if (r > 0) row.kl += r * (std::log(r) - (std::log(tail_sum) - log_sum_tau));
        }
    }

    const double sum = tempered ? exp_sum(z, V, max_z, 1.0f, z) : sum_tau;
    if (target >= 0) row.ce = double(max_z) + std::log(sum) - double(target_logit);
    if (bucketed)  // the plain exponentials of the teacher's ids, before the blend overwrites them
        for (int64_t j = 0; j < k; ++j)
            scratch.top_plain[size_t(j)] = tempered ? z[ids[j]] : scratch.top_exp[size_t(j)];
    // z = g e^(z - max) + g_tau e^((z - max) / tau): the two softmaxes with their weights; with a
    // tail bucket, less g_r e^((z - max) / tau) / tail_sum: the teacher's r spread over the tail
    // as the student spreads its own, the share (at most 1) taken first so that nothing
    // overflows however small tail_sum is.
    const double ce_weight = target >= 0 ? double(grad_scale) * (1.0 - alpha) : 0.0;
    const double kl_weight = double(grad_scale) * alpha * tau;
    if (r > 0) {
        const float g = float(ce_weight / sum), g_tau = float(kl_weight / sum_tau);
        const float inv_tail = tail_sum > 0 ? float(1.0 / tail_sum) : 0.0f, g_r = float(kl_weight * r);
        if (tempered)
            for (int64_t i = 0; i < V; ++i) z[i] = z[i] * g + e_tau[i] * g_tau - (e_tau[i] * inv_tail) * g_r;
        else
            for (int64_t i = 0; i < V; ++i) z[i] = e_tau[i] * (g + g_tau) - (e_tau[i] * inv_tail) * g_r;
    } else if (tempered) {
        const float g = float(ce_weight / sum), g_tau = float(kl_weight / sum_tau);
        for (int64_t i = 0; i < V; ++i) z[i] = z[i] * g + e_tau[i] * g_tau;
    } else {
        const float g_both = float(ce_weight / sum + kl_weight / sum);
        for (int64_t i = 0; i < V; ++i) z[i] = e_tau[i] * g_both;
    }
    const double p_weight = kl_weight / sum_t;
    if (bucketed) {  // the teacher's ids: CE part plus kl_weight (q_j - p_j), written whole
        for (int64_t j = 0; j < k; ++j)
            z[ids[j]] = float(ce_weight / sum * double(scratch.top_plain[size_t(j)]) +
                              kl_weight * (double(scratch.top_exp[size_t(j)]) / sum_tau - double(e_t[j])));
    } else {
        for (int64_t j = 0; j < k; ++j) z[ids != nullptr ? ids[j] : j] -= float(p_weight * double(e_t[j]));
    }
    if (target >= 0) z[target] -= float(ce_weight);
    return row;
}

}  // namespace

DistillSums distill_loss(float* logits, const int32_t* targets, const TeacherLogits& teacher, int64_t T, int64_t V,
                         float alpha, float temperature, float grad_scale, ThreadPool* pool) {
    distill::check_arguments(targets, teacher, T, V, alpha, temperature);
    std::vector<DistillSums> rows(static_cast<size_t>(T));
    parallel_rows(
        pool, T,
        [&](int64_t begin, int64_t end) {
            const size_t k = size_t(teacher.k), top = teacher.lse != nullptr ? k : 0;
            RowScratch scratch{std::vector<float>(static_cast<size_t>(V)), std::vector<float>(k),
                               std::vector<float>(top), std::vector<float>(top)};
            for (int64_t t = begin; t < end; ++t) {
                const TeacherRow row{distill::row_logits(teacher, t),
                                     teacher.ids != nullptr ? teacher.ids + t * teacher.k : nullptr, teacher.k,
                                     teacher.lse != nullptr ? teacher.lse + t : nullptr};
                rows[size_t(t)] = distill_row(logits + t * V, V, targets != nullptr ? targets[t] : -1, row, alpha,
                                              temperature, grad_scale, scratch);
            }
        },
        min_rows_per_chunk(V * 6));  // two exps and four passes: some 6 elementwise ops per logit
    DistillSums total;
    for (const DistillSums& row : rows) {
        total.ce += row.ce;
        total.kl += row.kl;
    }
    return total;
}

}  // namespace slm::kernels
