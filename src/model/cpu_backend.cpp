// CpuBackend: each op is the kernels:: function of the same name on host memory. Attention is
// where the CPU adds a choice of its own: how a batch's runs share the threads.
#include "model/cpu_backend.h"

#include <slm/error.h>
#include <slm/half.h>

#include <cstring>

namespace slm::model {

namespace {

// Runs of at most this many tokens of one sequence attend on one thread each (see attention).
constexpr int64_t kShortRun = 8;

}  // namespace

float* CpuBackend::buffer(Slot slot, size_t n) {
    std::vector<float>& b = buffers_[size_t(slot)];
    if (b.size() < n) b.resize(n);
    return b.data();
}

void CpuBackend::to_host(const float* src, size_t n, float* host) {
    if (src != host) std::memcpy(host, src, n * sizeof(float));
}

void CpuBackend::copy(float* dst, const float* src, size_t n) { std::memcpy(dst, src, n * sizeof(float)); }

void CpuBackend::get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out) {
    kernels::get_rows(E, ids, T, out, pool_);
}

void CpuBackend::matmul(std::span<const kernels::MatmulOut> outs, const float* x, int64_t T) {
    if (outs.size() == 1) kernels::matmul(*outs[0].W, x, T, outs[0].y, pool_);
    else kernels::matmul(outs, x, T, pool_);
}

void CpuBackend::rms_norm(const float* x, const std::vector<float>& w, int64_t T, int64_t D, float eps, float* out) {
    kernels::rms_norm(x, w.data(), T, D, eps, out, pool_);
}

void CpuBackend::layer_norm(const float* x, const std::vector<float>& w, const std::vector<float>& b, int64_t T,
                            int64_t D, float eps, float* out) {
    kernels::layer_norm(x, w.data(), b.empty() ? nullptr : b.data(), T, D, eps, out, pool_);
}

void CpuBackend::rope_angles(const int32_t* positions, int64_t T, int64_t rot_dim, const std::vector<float>& inv_freq,
                             float mscale, float* cos_sin) {
    kernels::rope_angles(positions, T, rot_dim, inv_freq.data(), mscale, cos_sin, pool_);
}

void CpuBackend::rope(float* q, int64_t H, float* k, int64_t Hkv, int64_t T, int64_t Dh, const float* cos_sin,
                      kernels::RopeMode mode, int64_t rot_dim) {
    kernels::rope(q, T, H, Dh, cos_sin, mode, pool_, rot_dim);
    kernels::rope(k, T, Hkv, Dh, cos_sin, mode, pool_, rot_dim);
}

void CpuBackend::store_kv(const float* k, const float* v, int64_t T, int64_t n, void* k_cache, void* v_cache,
                          const int32_t* positions, DType cache_dtype) {
    auto store = [&](const float* rows, void* cache) {
        for (int64_t t = 0; t < T; ++t) {
            const float* row = rows + t * n;
            const size_t slot = size_t(positions[t]) * size_t(n);
            if (cache_dtype == DType::f32) {
                std::memcpy(static_cast<float*>(cache) + slot, row, size_t(n) * sizeof(float));
            } else {
                uint16_t* dst = static_cast<uint16_t*>(cache) + slot;
                for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_f16(row[i]);
            }
        }
    };
    store(k, k_cache);
    store(v, v_cache);
}

void CpuBackend::attention(const float* q, std::span<const AttentionRun> runs, int64_t H, int64_t Hkv, int64_t Dh,
                           DType cache_dtype, const int32_t* q_pos, int window, float scale, float softcap,
                           float* out) {
    const int64_t row = H * Dh;
    auto attend = [&](const AttentionRun& run, ThreadPool* threads) {
        kernels::attention(q + run.begin * row, run.end - run.begin, H, Hkv, Dh, run.keys, run.values, cache_dtype,
                           run.length, q_pos + run.begin, window, scale, out + run.begin * row, threads, softcap);
    };
    // A prompt chunk is split over the threads by query blocks and heads; the single tokens of a
    // batched decode step are too little work to split, so those sequences are spread over the
    // threads instead.
    std::vector<const AttentionRun*> short_runs;
    for (const AttentionRun& run : runs) {
        if (run.end - run.begin > kShortRun || runs.size() == 1) attend(run, pool_);
        else short_runs.push_back(&run);
    }
    if (pool_ == nullptr) {
        for (const AttentionRun* run : short_runs) attend(*run, nullptr);
    } else {
        pool_->parallel_for(int64_t(short_runs.size()), [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) attend(*short_runs[size_t(r)], nullptr);
        });
    }
}

void CpuBackend::gated(Activation act, const float* gate, const float* up, int64_t T, int64_t width, float* out) {
    const int64_t n = T * width;
    switch (act) {
        case Activation::silu: return kernels::silu_mul(gate, up, n, out, pool_);
        case Activation::gelu_tanh: return kernels::gelu_tanh_mul(gate, up, n, out, pool_);
        case Activation::gelu: return kernels::gelu_mul(gate, up, n, out, pool_);
    }
}

void CpuBackend::activation(Activation act, const float* x, int64_t n, float* out) {
    switch (act) {
        case Activation::silu: fail("forward: a plain (ungated) SiLU MLP is not supported");
        case Activation::gelu_tanh: return kernels::gelu_tanh(x, n, out, pool_);
        case Activation::gelu: return kernels::gelu(x, n, out, pool_);
    }
}

void CpuBackend::softcap(float* x, int64_t n, float cap) { kernels::softcap(x, n, cap, pool_); }

void CpuBackend::multiply(float* x, int64_t n, float s) { kernels::multiply(x, n, s); }

void CpuBackend::add(float* y, const float* x, int64_t n) { kernels::add(y, x, n); }

void CpuBackend::add_bias(float* y, const std::vector<float>& b, int64_t T, int64_t D) {
    kernels::add_bias(y, b.data(), T, D);
}

}  // namespace slm::model
