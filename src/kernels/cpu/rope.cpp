// Fast rotary embedding: cos and sin computed once per (token, pair) for a whole forward pass,
// where each of q and k of every layer computed them again (libm sincos was 2.5% of a small
// model's prompt time), then a branch-free rotation loop per head for either pairing.
#include <slm/kernels.h>

#include "kernels/cpu/parallel.h"

#include <cmath>

namespace slm::kernels {

void rope_angles(const int32_t* positions, int64_t T, int64_t Dh, const float* inv_freq, float mscale, float* cos_sin,
                 ThreadPool* pool) {
    const int64_t half = Dh / 2;
    parallel_rows(pool, T, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            for (int64_t i = 0; i < half; ++i) {
                // The angle in double: positions reach 1e5+ and float would lose the fraction.
                const double theta = double(positions[t]) * double(inv_freq[i]);
                cos_sin[t * Dh + i] = float(std::cos(theta)) * mscale;
                cos_sin[t * Dh + half + i] = float(std::sin(theta)) * mscale;
            }
        }
    }, min_rows_per_chunk(Dh * 16));  // a cos or a sin weighs some 16 elementwise ops
}

void rope(float* x, int64_t T, int64_t H, int64_t Dh, const float* cos_sin, RopeMode mode, ThreadPool* pool,
          int64_t rot_dim) {
    const int64_t rot = rot_dim > 0 ? rot_dim : Dh;  // heads are Dh apart, the first rot dimensions turn
    const int64_t half = rot / 2;
    auto rotate_tokens = [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            const float* cos_v = cos_sin + t * rot;
            const float* sin_v = cos_v + half;
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
