// Reference causal attention over a KV cache: for each query token and head, scaled dot products
// with the visible cache positions (soft-capped when asked), a softmax in double, and the weighted
// sum of values.
#include <slm/kernels.h>

#include "kernels/cpu/reference/row_to_float.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace slm::kernels::ref {

void attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
               const void* v_cache, DType cache_dtype, int64_t S, const int32_t* q_pos, int window,
               float scale, float* out, float softcap) {
    if (cache_dtype != DType::f32 && cache_dtype != DType::f16)
        fail("kernels::attention: KV cache dtype {} is not f32 or f16", name(cache_dtype));
    if (Hkv <= 0 || H % Hkv != 0) fail("kernels::attention: {} query heads do not group over {} kv heads", H, Hkv);
    const ToFloatFn to_float = detail::to_float_or_throw(cache_dtype, "attention");
    const int64_t group = H / Hkv;
    // The caches converted once: the reference favours clarity over memory.
    const size_t cache_elems = static_cast<size_t>(S * Hkv * Dh);
    std::vector<float> k(cache_elems), v(cache_elems);
    to_float(k_cache, k.data(), S * Hkv * Dh);
    to_float(v_cache, v.data(), S * Hkv * Dh);
    std::vector<double> p(static_cast<size_t>(S));
    for (int64_t t = 0; t < T; ++t) {
        const int64_t last = std::min<int64_t>(q_pos[t], S - 1);
        const int64_t first = window > 0 ? std::max<int64_t>(0, int64_t(q_pos[t]) - window + 1) : 0;
        for (int64_t h = 0; h < H; ++h) {
            const float* qh = q + (t * H + h) * Dh;
            float* oh = out + (t * H + h) * Dh;
            std::fill(oh, oh + Dh, 0.0f);
            if (first > last) continue;
            const int64_t kvh = h / group;
            double max_score = -INFINITY;
            for (int64_t j = first; j <= last; ++j) {
                const float* kj = k.data() + (j * Hkv + kvh) * Dh;
                double dot = 0;
                for (int64_t i = 0; i < Dh; ++i) dot += double(qh[i]) * double(kj[i]);
                p[size_t(j)] = dot * double(scale);
                if (softcap > 0) p[size_t(j)] = double(softcap) * std::tanh(p[size_t(j)] / double(softcap));
                max_score = std::max(max_score, p[size_t(j)]);
            }
            double denom = 0;
            for (int64_t j = first; j <= last; ++j) denom += (p[size_t(j)] = std::exp(p[size_t(j)] - max_score));
            for (int64_t i = 0; i < Dh; ++i) {
                double acc = 0;
                for (int64_t j = first; j <= last; ++j) acc += p[size_t(j)] * double(v[size_t((j * Hkv + kvh) * Dh + i)]);
                oh[i] = float(acc / denom);
            }
        }
    }
}

}  // namespace slm::kernels::ref
