// Fast rotary embedding: cos and sin computed once per (token, pair) in float and shared by all
// heads of the token, then a branch-free rotation loop per head for either pairing.
#include <slm/kernels.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/scratch.h"

#include <cmath>

namespace slm::kernels {

void rope(float* x, int64_t T, int64_t H, int64_t Dh, const int32_t* positions, const float* inv_freq,
          float mscale, RopeMode mode, ThreadPool* pool) {
    const int64_t half = Dh / 2;
    auto rotate_tokens = [&](int64_t begin, int64_t end) {
        auto* cs = static_cast<float*>(scratch(size_t(Dh) * sizeof(float), 1));
        float* cos_v = cs;
        float* sin_v = cs + half;
        for (int64_t t = begin; t < end; ++t) {
            for (int64_t i = 0; i < half; ++i) {
                // The angle in double: positions reach 1e5+ and float would lose the fraction.
                const double theta = double(positions[t]) * double(inv_freq[i]);
                cos_v[i] = float(std::cos(theta)) * mscale;
                sin_v[i] = float(std::sin(theta)) * mscale;
            }
            for (int64_t h = 0; h < H; ++h) {
                float* head = x + (t * H + h) * Dh;
                if (mode == RopeMode::neox) {
                    for (int64_t i = 0; i < half; ++i) {
                        const float a = head[i], b = head[i + half];
                        head[i] = a * cos_v[i] - b * sin_v[i];
                        head[i + half] = a * sin_v[i] + b * cos_v[i];
                    }
                } else {
                    for (int64_t i = 0; i < half; ++i) {
                        const float a = head[2 * i], b = head[2 * i + 1];
                        head[2 * i] = a * cos_v[i] - b * sin_v[i];
                        head[2 * i + 1] = a * sin_v[i] + b * cos_v[i];
                    }
                }
            }
        }
    };
    parallel_rows(pool, T, rotate_tokens, min_rows_per_chunk(H * Dh));
}

}  // namespace slm::kernels
