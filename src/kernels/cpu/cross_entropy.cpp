// Fast softmax cross-entropy: per row a max, one pass of fast_exp written over the logits with
// their sum, then the scaling into the gradient; rows spread over the pool. Each row's loss is
// kept and the losses summed in row order in double, so the total does not depend on the threads.
#include <slm/train_ops.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/softmax_row.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace slm::kernels {
namespace {

// The row's loss; the row becomes grad_scale * (softmax - onehot(target)).
double cross_entropy_row(float* x, int64_t V, int32_t target, float grad_scale) {
    const float max_v = row_max(x, V);
    const float target_logit = x[target];
    const double sum = exp_sum(x, V, max_v, 1.0f, x);
    const float g = float(double(grad_scale) / sum);
    for (int64_t i = 0; i < V; ++i) x[i] *= g;
    x[target] -= grad_scale;
    return double(max_v) + std::log(sum) - double(target_logit);
}

}  // namespace

double cross_entropy(float* logits, const int32_t* targets, int64_t T, int64_t V, float grad_scale, float* row_loss,
                     ThreadPool* pool) {
    std::vector<double> losses(static_cast<size_t>(T), 0.0);
    parallel_rows(pool, T, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            float* row = logits + t * V;
            if (targets[t] < 0) std::fill(row, row + V, 0.0f);
            else losses[size_t(t)] = cross_entropy_row(row, V, targets[t], grad_scale);
        }
    }, min_rows_per_chunk(V * 4));  // exp and three passes: some 4 elementwise ops per logit
    double total = 0;
    for (int64_t t = 0; t < T; ++t) {
        total += losses[size_t(t)];
        if (row_loss != nullptr) row_loss[t] = float(losses[size_t(t)]);
    }
    return total;
}

}  // namespace slm::kernels
