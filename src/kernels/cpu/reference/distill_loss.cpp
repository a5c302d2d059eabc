// Reference distillation loss, in double: per row the cross-entropy against the target and the KL
// divergence from the teacher's tempered distribution to the student's (with a top-k teacher's
// lse: over the k ids plus the tail bucket), each log-softmax taken after subtracting its row's
// max; the gradient written over the logits.
#include <slm/train_ops.h>

#include "kernels/cpu/distill_teacher.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace slm::kernels::ref {

DistillSums distill_loss(float* logits, const int32_t* targets, const TeacherLogits& teacher, int64_t T, int64_t V,
                         float alpha, float temperature, float grad_scale) {
    distill::check_arguments(targets, teacher, T, V, alpha, temperature);
    const double tau = temperature, a = alpha, gs = grad_scale;
    std::vector<double> p(static_cast<size_t>(teacher.k)), grad(static_cast<size_t>(V)), tail_share(static_cast<size_t>(V));
    std::vector<bool> in_top(static_cast<size_t>(V));
    DistillSums sums;
    for (int64_t t = 0; t < T; ++t) {
        float* z = logits + t * V;
        const int32_t target = targets != nullptr ? targets[t] : -1;
        double max_z = -INFINITY;
        for (int64_t i = 0; i < V; ++i) max_z = std::max(max_z, double(z[i]));
        double sum = 0, sum_tau = 0;
        for (int64_t i = 0; i < V; ++i) {
            sum += std::exp(double(z[i]) - max_z);
            sum_tau += std::exp((double(z[i]) - max_z) / tau);
        }
        const double log_z = max_z + std::log(sum);
        const double log_z_tau = max_z / tau + std::log(sum_tau);  // of the logits z / tau
        if (target >= 0) sums.ce += log_z - double(z[target]);

        // log p_j = s_j - logsumexp(s), s = teacher / tau, with logsumexp over the k given logits
        // (renormalized) or, with lse, over the teacher's whole vocabulary (exact); then KL
        // against log q = z / tau - log_z_tau.
        const float* s = distill::row_logits(teacher, t);
        double log_z_s = 0;
        if (teacher.lse != nullptr) {
            log_z_s = teacher.lse[t];
        } else {
            double max_s = -INFINITY;
            for (int64_t j = 0; j < teacher.k; ++j) max_s = std::max(max_s, double(s[j]) / tau);
            double sum_s = 0;
            for (int64_t j = 0; j < teacher.k; ++j) sum_s += std::exp(double(s[j]) / tau - max_s);
            log_z_s = max_s + std::log(sum_s);
        }
        double p_top = 0;
        for (int64_t j = 0; j < teacher.k; ++j) {
            const double log_p = double(s[j]) / tau - log_z_s;
            p[size_t(j)] = std::exp(log_p);
            p_top += p[size_t(j)];
            const double log_q = double(z[distill::entry_id(teacher, t, j)]) / tau - log_z_tau;
            if (p[size_t(j)] > 0) sums.kl += p[size_t(j)] * (log_p - log_q);
        }

        // The tail bucket (lse only): the teacher's remaining mass r against the student's tail
        // mass q_r, whose log is a logsumexp over the tail ids shifted by their own max, so that
        // it stays finite however small q_r is. tail_share[i] = q_i / q_r.
        double r = 0, log_tail = 0;
        std::fill(tail_share.begin(), tail_share.end(), 0.0);
        if (teacher.lse != nullptr && teacher.k < V) {
            std::fill(in_top.begin(), in_top.end(), false);
            for (int64_t j = 0; j < teacher.k; ++j) in_top[size_t(distill::entry_id(teacher, t, j))] = true;
            double max_tail = -INFINITY;
            for (int64_t i = 0; i < V; ++i)
                if (!in_top[size_t(i)]) max_tail = std::max(max_tail, double(z[i]));
            double sum_tail = 0;
            for (int64_t i = 0; i < V; ++i)
                if (!in_top[size_t(i)]) sum_tail += std::exp((double(z[i]) - max_tail) / tau);
            log_tail = max_tail / tau + std::log(sum_tail);  // log of sum over the tail of e^(z / tau)
            for (int64_t i = 0; i < V; ++i)
                if (!in_top[size_t(i)]) tail_share[size_t(i)] = std::exp(double(z[i]) / tau - log_tail);
            r = std::max(0.0, 1.0 - p_top);
            if (r > 0) sums.kl += r * (std::log(r) - (log_tail - log_z_tau));
        }

        for (int64_t i = 0; i < V; ++i) {
            const double soft = std::exp(double(z[i]) - log_z), soft_tau = std::exp(double(z[i]) / tau - log_z_tau);
            grad[size_t(i)] = (target >= 0 ? (1 - a) * (soft - (i == target ? 1.0 : 0.0)) : 0.0) +
                              a * tau * (soft_tau - r * tail_share[size_t(i)]);
        }
        for (int64_t j = 0; j < teacher.k; ++j)
            grad[size_t(distill::entry_id(teacher, t, j))] -= a * tau * p[size_t(j)];
        for (int64_t i = 0; i < V; ++i) z[i] = float(gs * grad[size_t(i)]);
    }
    return sums;
}

}  // namespace slm::kernels::ref
