// Fast backward of the row-wise and elementwise ops (elementwise.cpp, rope.cpp, get_rows.cpp):
// RMS norm, rotary embedding, the SiLU-gated product and the embedding gather. Loops the
// compiler vectorizes, split over the pool by rows or element ranges; the weight gradient of
// RMS norm is summed per fixed chunk of rows and the chunks then added in order, so that it does
// not depend on the thread count.
#include <slm/train_ops.h>

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace slm::kernels {

// dx_i = r w_i dy_i - x_i r^3 / D * sum_j w_j dy_j x_j, dw_i += sum_t dy_i x_i r (ref::rms_norm_backward).
void rms_norm_backward(const float* x, const float* w, const float* dy, int64_t T, int64_t D, float eps, float* dx,
                       float* dw, ThreadPool* pool) {
    // At most 64 chunks of rows, each with its own partial dw: bounded memory, and enough chunks
    // to balance the pool.
    const int64_t chunk = std::max((T + 63) / 64, min_rows_per_chunk(D));
    const int64_t chunks = (T + chunk - 1) / chunk;
    std::vector<float> partial(dw != nullptr ? size_t(chunks * D) : 0, 0.0f);
    parallel_chunks(pool, T, chunk, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            // By the row's fixed chunk, not by the call's range (one call covers all rows without a pool).
            float* dw_part = dw != nullptr ? partial.data() + (t / chunk) * D : nullptr;
            const float* xt = x + t * D;
            const float* gt = dy + t * D;
            float* dxt = dx + t * D;
            float sum_sq[8] = {}, dot[8] = {};
            int64_t i = 0;
            for (; i + 8 <= D; i += 8)
                for (int l = 0; l < 8; ++l) {
                    sum_sq[l] += xt[i + l] * xt[i + l];
                    dot[l] += w[i + l] * gt[i + l] * xt[i + l];
                }
            float ss = 0, wd = 0;
            for (int l = 0; l < 8; ++l) ss += sum_sq[l], wd += dot[l];
            for (; i < D; ++i) ss += xt[i] * xt[i], wd += w[i] * gt[i] * xt[i];
            const float r = 1.0f / std::sqrt(ss / float(D) + eps);
            const float c = r * r * r / float(D) * wd;
            for (i = 0; i < D; ++i) dxt[i] = r * w[i] * gt[i] - xt[i] * c;
            if (dw_part != nullptr)
                for (i = 0; i < D; ++i) dw_part[i] += gt[i] * xt[i] * r;
        }
    });
    if (dw == nullptr) return;
    for (int64_t c = 0; c < chunks; ++c)
        for (int64_t i = 0; i < D; ++i) dw[i] += partial[size_t(c * D + i)];
}

// The transpose of rope's rotation: the same cosines, sines negated.
void rope_backward(float* dx, int64_t T, int64_t H, int64_t Dh, const float* cos_sin, RopeMode mode, ThreadPool* pool) {
    const int64_t half = Dh / 2;
    parallel_rows(pool, T, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            const float* cos_v = cos_sin + t * Dh;
            const float* sin_v = cos_v + half;
            for (int64_t h = 0; h < H; ++h) {
                float* head = dx + (t * H + h) * Dh;
                if (mode == RopeMode::neox) {
                    for (int64_t i = 0; i < half; ++i) {
                        const float a = head[i], b = head[i + half];
                        head[i] = a * cos_v[i] + b * sin_v[i];
                        head[i + half] = b * cos_v[i] - a * sin_v[i];
                    }
                } else {
                    for (int64_t i = 0; i < half; ++i) {
                        const float a = head[2 * i], b = head[2 * i + 1];
                        head[2 * i] = a * cos_v[i] + b * sin_v[i];
                        head[2 * i + 1] = b * cos_v[i] - a * sin_v[i];
                    }
                }
            }
        }
    }, min_rows_per_chunk(H * Dh));
}

// d/dgate = dout up s (1 + g (1 - s)), d/dup = dout g s, with s = 1 / (1 + e^-g).
void silu_mul_backward(const float* gate, const float* up, const float* dout, int64_t n, float* dgate, float* dup,
                       ThreadPool* pool) {
    parallel_rows(pool, n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const float g = gate[i], d = dout[i];  // dout read before dgate (which may alias it) is written
            const float s = 1.0f / (1.0f + fast_exp(-g));
            dup[i] = d * g * s;
            dgate[i] = d * up[i] * s * (1.0f + g * (1.0f - s));
        }
    }, kMinElementsPerChunk);
}

// One thread: tokens repeat (the same id several times in a batch), so rows may not be split.
void get_rows_backward(const float* dout, const int32_t* ids, int64_t T, int64_t D, float* dE) {
    for (int64_t t = 0; t < T; ++t) {
        float* row = dE + int64_t(ids[t]) * D;
        const float* g = dout + t * D;
        for (int64_t i = 0; i < D; ++i) row[i] += g[i];
    }
}

}  // namespace slm::kernels
