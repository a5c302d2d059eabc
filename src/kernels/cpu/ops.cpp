// The public kernels (namespace slm::kernels): each op split over the thread pool by rows, each
// row computed by the scalar reference until its fast version replaces it here.
#include <slm/kernels.h>

#include "kernels/cpu/reference/row_to_float.h"


namespace slm::kernels {
namespace {

// Runs fn(begin, end) over [0, n) on the pool, or inline when there is none.
template <typename Fn>
void for_rows(ThreadPool* pool, int64_t n, Fn&& fn, int64_t grain = 1) {
    if (pool == nullptr) fn(int64_t(0), n);
    else pool->parallel_for(n, fn, grain);
}

}  // namespace

void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out, ThreadPool* pool) {
    const int64_t D = E.row_length();
    for_rows(pool, T, [&](int64_t begin, int64_t end) { ref::get_rows(E, ids + begin, end - begin, out + begin * D); });
}

void rms_norm(const float* x, const float* w, int64_t T, int64_t D, float eps, float* out, ThreadPool* pool) {
    for_rows(pool, T, [&](int64_t begin, int64_t end) {
        ref::rms_norm(x + begin * D, w, end - begin, D, eps, out + begin * D);
    });
}

void rope(float* x, int64_t T, int64_t H, int64_t Dh, const int32_t* positions, const float* inv_freq,
          float mscale, RopeMode mode, ThreadPool* pool) {
    for_rows(pool, T, [&](int64_t begin, int64_t end) {
        ref::rope(x + begin * H * Dh, end - begin, H, Dh, positions + begin, inv_freq, mscale, mode);
    });
}

void attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
               const void* v_cache, DType cache_dtype, int64_t S, const int32_t* q_pos, int window,
               float scale, float* out, ThreadPool* pool) {
    for_rows(pool, T, [&](int64_t begin, int64_t end) {
        ref::attention(q + begin * H * Dh, end - begin, H, Hkv, Dh, k_cache, v_cache, cache_dtype, S, q_pos + begin,
                       window, scale, out + begin * H * Dh);
    });
}

void silu_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool) {
    for_rows(pool, n, [&](int64_t begin, int64_t end) {
        ref::silu_mul(gate + begin, up + begin, end - begin, out + begin);
    }, 4096);
}

void add(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void add_bias(float* y, const float* b, int64_t T, int64_t D) {
    for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < D; ++i) y[t * D + i] += b[i];
}

void softmax(float* x, int64_t T, int64_t n) { ref::softmax(x, T, n); }

}  // namespace slm::kernels
