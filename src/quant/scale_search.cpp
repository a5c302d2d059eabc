// The scale searches behind the k-quant reference quantizers. The order of every float
// operation matters here (files must be bit-identical with llama.cpp's), so expressions are kept
// in the association ggml evaluates them in, and contraction into fused multiply-adds is off.
#include "quant/exact_float.h"
#include "quant/scale_search.h"

#include <algorithm>
#include <cmath>

namespace slm::quant {
namespace {

int clamp_level(int l, int lo, int hi) { return std::max(lo, std::min(hi, l)); }

// The element of largest magnitude, with its sign; amax is its magnitude.
float signed_absmax(int n, const float* x, float& amax) {
    float max = 0;
    amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    return max;
}

}  // namespace

float fit_symmetric_weighted(int n, int nmax, const float* x, int8_t* levels) {
    float amax;
    const float max = signed_absmax(n, x, amax);
    if (amax < kGroupMaxEps) {
        std::fill(levels, levels + n, int8_t(0));
        return 0.0f;
    }
    // Weighted sums of x*l and l*l for the levels that `iscale` rounds to.
    auto sums = [&](float iscale, float& sumlx, float& suml2) {
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * float(l);
            suml2 += w * float(l) * float(l);
        }
    };
    auto assign = [&](float iscale) {
        for (int i = 0; i < n; ++i)
            levels[i] = int8_t(nmax + clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1));
    };

    float iscale = float(-nmax) / max;
    float sumlx, suml2;
    sums(iscale, sumlx, suml2);
    assign(iscale);
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int step = -9; step <= 9; ++step) {
        if (step == 0) continue;
        iscale = -(float(nmax) + 0.1f * float(step)) / max;
        sums(iscale, sumlx, suml2);
        // Better when sumlx^2 / suml2 (the error reduction) grows.
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            assign(iscale);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

float fit_symmetric_descent(int n, int nmax, const float* x, int8_t* levels) {
    float amax;
    const float max = signed_absmax(n, x, amax);
    if (amax < kGroupMaxEps) {
        std::fill(levels, levels + n, int8_t(0));
        return 0.0f;
    }
    const float iscale = float(-nmax) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        levels[i] = int8_t(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * float(l);
        suml2 += w * float(l) * float(l);
    }
    for (int round = 0; round < 5; ++round) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            const float l_old = float(levels[i]);
            float slx = sumlx - w * x[i] * l_old;
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * l_old * l_old;
            // The best level for element i given the others' fit.
            const int l_new = clamp_level(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (l_new == levels[i]) continue;
            slx += w * x[i] * float(l_new);
            sl2 += w * float(l_new) * float(l_new);
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                levels[i] = int8_t(l_new);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (changed == 0) break;
    }
    for (int i = 0; i < n; ++i) levels[i] = int8_t(levels[i] + nmax);
    return sumlx / suml2;
}

float fit_affine(int n, int nmax, const float* x, const float* weights, uint8_t* levels, float* min_out,
                 uint8_t* scratch, float rmin, float rdelta, int nstep, bool use_abs_error) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        min = std::min(min, x[i]);
        max = std::max(max, x[i]);
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0) min = 0;  // the minimum is subtracted, so it is never positive
    if (max == min) {
        std::fill(levels, levels + n, uint8_t(0));
        *min_out = -min;
        return 0.0f;
    }
    auto error_of = [&](float scale, float offset, const uint8_t* l) {
        float err = 0;
        for (int i = 0; i < n; ++i) {
            float diff = scale * float(l[i]) + offset - x[i];
            diff = use_abs_error ? std::fabs(diff) : diff * diff;
            err += weights[i] * diff;
        }
        return err;
    };

    float iscale = float(nmax) / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i) levels[i] = uint8_t(clamp_level(nearest_int(iscale * (x[i] - min)), 0, nmax));
    float best_error = error_of(scale, min, levels);
    if (nstep < 1) {
        *min_out = -min;
        return scale;
    }
    for (int step = 0; step <= nstep; ++step) {
        iscale = (rmin + rdelta * float(step) + float(nmax)) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_level(nearest_int(iscale * (x[i] - min)), 0, nmax);
            scratch[i] = uint8_t(l);
            const float w = weights[i];
            sum_l += w * float(l);
            sum_l2 += w * float(l) * float(l);
            sum_xl += w * float(l) * x[i];
        }
        // Weighted least squares for x ~ scale * l + offset.
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float err = error_of(this_scale, this_min, scratch);
        if (err < best_error) {
            std::copy(scratch, scratch + n, levels);
            best_error = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *min_out = -min;
    return scale;
}

}  // namespace slm::quant
