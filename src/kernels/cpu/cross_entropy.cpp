// Fast softmax cross-entropy: per row a max, one pass of fast_exp written over the logits with
// their sum, then the scaling into the gradient; rows spread over the pool. Each row's loss is
// kept and the losses summed in row order in double, so the total does not depend on the threads.
#include <slm/train_ops.h>

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace slm::kernels {
namespace {

// The row's loss; the row becomes grad_scale * (softmax - onehot(target)).
double cross_entropy_row(float* x, int64_t V, int32_t target, float grad_scale) {
    float max_lanes[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t i = 0;
    for (; i + 8 <= V; i += 8)
        for (int l = 0; l < 8; ++l) max_lanes[l] = std::max(max_lanes[l], x[i + l]);
    float max_v = *std::max_element(max_lanes, max_lanes + 8);
    for (; i < V; ++i) max_v = std::max(max_v, x[i]);
    const float target_logit = x[target];
    // Partial sums per lane, then in double: V reaches 152k terms.
    float sum_lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (i = 0; i + 8 <= V; i += 8)
        for (int l = 0; l < 8; ++l) sum_lanes[l] += (x[i + l] = fast_exp(x[i + l] - max_v));
    double sum = 0;
    for (float s : sum_lanes) sum += double(s);
    for (; i < V; ++i) sum += double(x[i] = fast_exp(x[i] - max_v));
    const float g = float(double(grad_scale) / sum);
    for (i = 0; i < V; ++i) x[i] *= g;
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
