// AdamW, schedules and clipping (optimizer.h), each written to give torch's and transformers'
// numbers for the same inputs, so that a run can be checked step by step against PyTorch.
#include "train/optimizer.h"

#include <slm/error.h>

#include <cmath>
#include <numbers>

namespace slm::train {

AdamW::AdamW(std::vector<ParamSlot> params, AdamWOptions options) : params_(std::move(params)), options_(options) {
    for (const ParamSlot& p : params_) {
        m_.emplace_back(size_t(p.size), 0.0f);
        v_.emplace_back(size_t(p.size), 0.0f);
    }
}

void AdamW::step(double lr) {
    ++steps_;
    const double b1 = options_.beta1, b2 = options_.beta2;
    // torch (single-tensor path): p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
    // p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), in f32 with these scalars.
    const double bc1 = 1.0 - std::pow(b1, double(steps_)), bc2 = 1.0 - std::pow(b2, double(steps_));
    const float step_size = float(lr / bc1), bc2_sqrt = float(std::sqrt(bc2));
    const float decay = float(1.0 - lr * options_.weight_decay), eps = float(options_.eps);
    const float fb1 = float(b1), fb2 = float(b2), one_b1 = float(1.0 - b1), one_b2 = float(1.0 - b2);
    for (size_t i = 0; i < params_.size(); ++i) {
        float* p = params_[i].value;
        const float* g = params_[i].grad;
        float* m = m_[i].data();
        float* v = v_[i].data();
        for (int64_t j = 0; j < params_[i].size; ++j) {
            if (options_.weight_decay != 0) p[j] *= decay;
            m[j] = fb1 * m[j] + one_b1 * g[j];
            v[j] = fb2 * v[j] + one_b2 * g[j] * g[j];
            const float denom = std::sqrt(v[j]) / bc2_sqrt + eps;
            p[j] -= step_size * (m[j] / denom);
        }
    }
}

Schedule parse_schedule(const std::string& name) {
    if (name == "linear") return Schedule::linear;
    if (name == "cosine") return Schedule::cosine;
    if (name == "constant") return Schedule::constant;
    fail("--schedule: '{}' is not a schedule (linear, cosine or constant)", name);
}

double learning_rate(Schedule schedule, double base_lr, int64_t step, int64_t total, int64_t warmup) {
    if (step < warmup) return base_lr * double(step) / double(std::max<int64_t>(1, warmup));
    switch (schedule) {
        case Schedule::constant: return base_lr;
        case Schedule::linear:
            return base_lr * std::max(0.0, double(total - step) / double(std::max<int64_t>(1, total - warmup)));
        case Schedule::cosine: {
            const double progress = double(step - warmup) / double(std::max<int64_t>(1, total - warmup));
            return base_lr * std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
        }
    }
    return base_lr;
}

double clip_grad_norm(std::span<const ParamSlot> params, double max_norm) {
    double sum = 0;
    for (const ParamSlot& p : params)
        for (int64_t j = 0; j < p.size; ++j) sum += double(p.grad[j]) * double(p.grad[j]);
    const double norm = std::sqrt(sum);
    if (max_norm > 0 && norm > max_norm) {
        const float coef = float(max_norm / (norm + 1e-6));
        for (const ParamSlot& p : params) {
            float* g = p.grad;
            for (int64_t j = 0; j < p.size; ++j) g[j] *= coef;
        }
    }
    return norm;
}

}  // namespace slm::train
