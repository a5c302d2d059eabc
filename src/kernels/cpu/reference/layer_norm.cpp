// Reference layer normalisation (BERT's and Phi-2's LayerNorm): mean and biased variance of each
// row in double, then scale by w and shift by b (either may be absent).
#include <slm/kernels.h>

#include <cmath>

namespace slm::kernels::ref {

void layer_norm(const float* x, const float* w, const float* b, int64_t T, int64_t D, float eps, float* out) {
    for (int64_t t = 0; t < T; ++t) {
        const float* xt = x + t * D;
        double sum = 0;
        for (int64_t i = 0; i < D; ++i) sum += xt[i];
        const double mean = sum / double(D);
        double sum_sq = 0;
        for (int64_t i = 0; i < D; ++i) sum_sq += (xt[i] - mean) * (xt[i] - mean);
        const double inv_std = 1.0 / std::sqrt(sum_sq / double(D) + double(eps));
        float* ot = out + t * D;
        for (int64_t i = 0; i < D; ++i)
            ot[i] = float((xt[i] - mean) * inv_std * (w ? double(w[i]) : 1.0) + (b ? double(b[i]) : 0.0));
    }
}

}  // namespace slm::kernels::ref
