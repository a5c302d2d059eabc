// AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias-corrected moments, eps
// added to the corrected root), the learning-rate schedules of transformers' get_scheduler
// (linear, cosine, constant, each after a linear warmup), and gradient clipping by global norm
// (torch.nn.utils.clip_grad_norm_). State is f32, one pair of moments per trainable value.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace slm::train {

struct AdamWOptions {
    double lr = 2e-4;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double weight_decay = 0.0;
};

// One tensor the optimizer updates: value and gradient of `size` floats.
struct ParamSlot {
    float* value;
    float* grad;
    int64_t size;
};

class AdamW {
public:
    AdamW(std::vector<ParamSlot> params, AdamWOptions options);
    // One update with learning rate `lr` (the schedule's value for this step).
    void step(double lr);
    int64_t steps() const { return steps_; }

    // The moments, one m and one v per parameter (checkpoints), and the step count.
    std::vector<std::vector<float>>& m() { return m_; }
    std::vector<std::vector<float>>& v() { return v_; }
    void set_steps(int64_t steps) { steps_ = steps; }

private:
    std::vector<ParamSlot> params_;
    AdamWOptions options_;
    std::vector<std::vector<float>> m_, v_;
    int64_t steps_ = 0;
};

enum class Schedule { linear, cosine, constant };
Schedule parse_schedule(const std::string& name);  // "linear" | "cosine" | "constant"

// The learning rate of optimizer step `step` (0-based) out of `total`, after `warmup` steps that
// rise linearly from 0: transformers' get_linear/cosine/constant_schedule_with_warmup.
double learning_rate(Schedule schedule, double base_lr, int64_t step, int64_t total, int64_t warmup);

// The global L2 norm of all gradients (summed in double); when it exceeds max_norm (> 0), every
// gradient is scaled by max_norm / (norm + 1e-6), as torch's clip_grad_norm_ does. Returns the
// norm before clipping.
double clip_grad_norm(std::span<const ParamSlot> params, double max_norm);

}  // namespace slm::train
