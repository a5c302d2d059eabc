// Reference rotary position embedding: each pair (a, b) of a head is rotated by the angle
// position * inv_freq[i], the pairing given by RopeMode (see kernels.h), over the first rot_dim
// dimensions of each head (all of them by default).
#include <slm/kernels.h>

#include <cmath>

namespace slm::kernels::ref {

void rope(float* x, int64_t T, int64_t H, int64_t Dh, const int32_t* positions, const float* inv_freq,
          float mscale, RopeMode mode, int64_t rot_dim) {
    const int64_t half = (rot_dim > 0 ? rot_dim : Dh) / 2;  // partial rotary: the first rot_dim turn
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t h = 0; h < H; ++h) {
            float* head = x + (t * H + h) * Dh;
            for (int64_t i = 0; i < half; ++i) {
                const double theta = double(positions[t]) * double(inv_freq[i]);
                const float c = float(std::cos(theta)) * mscale, s = float(std::sin(theta)) * mscale;
                const int64_t ia = mode == RopeMode::normal ? 2 * i : i;
                const int64_t ib = mode == RopeMode::normal ? 2 * i + 1 : i + half;
                const float a = head[ia], b = head[ib];
                head[ia] = a * c - b * s;
                head[ib] = a * s + b * c;
            }
        }
    }
}

}  // namespace slm::kernels::ref
