// Reference softmax cross-entropy over rows of logits, in double: the loss of each scored row and
// the gradient grad_scale * (softmax - onehot) written over the logits.
#include <slm/train_ops.h>

#include <algorithm>
#include <cmath>

namespace slm::kernels::ref {

double cross_entropy(float* logits, const int32_t* targets, int64_t T, int64_t V, float grad_scale, float* row_loss) {
    double total = 0;
    for (int64_t t = 0; t < T; ++t) {
        float* row = logits + t * V;
        const int32_t target = targets[t];
        if (target < 0) {
            std::fill(row, row + V, 0.0f);
            if (row_loss != nullptr) row_loss[t] = 0.0f;
            continue;
        }
        double max_v = -INFINITY;
        for (int64_t i = 0; i < V; ++i) max_v = std::max(max_v, double(row[i]));
        double sum = 0;
        for (int64_t i = 0; i < V; ++i) sum += std::exp(double(row[i]) - max_v);
        const double log_z = max_v + std::log(sum);
        const double loss = log_z - double(row[target]);
        total += loss;
        if (row_loss != nullptr) row_loss[t] = float(loss);
        for (int64_t i = 0; i < V; ++i) {
            const double p = std::exp(double(row[i]) - log_z);
            row[i] = float(double(grad_scale) * (p - (i == target ? 1.0 : 0.0)));
        }
    }
    return total;
}

}  // namespace slm::kernels::ref
