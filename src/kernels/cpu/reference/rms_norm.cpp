// Reference RMS normalisation (Llama's RMSNorm): mean of squares in double, then scale by w.
#include <slm/kernels.h>

#include <cmath>

namespace slm::kernels::ref {

void rms_norm(const float* x, const float* w, int64_t T, int64_t D, float eps, float* out) {
    for (int64_t t = 0; t < T; ++t) {
        const float* xt = x + t * D;
        double sum_sq = 0;
        for (int64_t i = 0; i < D; ++i) sum_sq += double(xt[i]) * double(xt[i]);
        const float inv_rms = float(1.0 / std::sqrt(sum_sq / double(D) + double(eps)));
        float* ot = out + t * D;
        for (int64_t i = 0; i < D; ++i) ot[i] = xt[i] * inv_rms * w[i];
    }
}

}  // namespace slm::kernels::ref
