// CpuBackend: the Backend of the CPU, made for one forward: kernels:: on host memory with the
// caller's thread pool, activations in vectors of its own.
#pragma once

#include <slm/thread_pool.h>

#include "model/backend.h"

#include <array>
#include <vector>

namespace slm::model {

class CpuBackend final : public Backend {
public:
    explicit CpuBackend(ThreadPool* pool) : pool_(pool) {}

    float* buffer(Slot slot, size_t n) override;
    const int32_t* ints(IntSlot, std::span<const int32_t> host) override { return host.data(); }
    float* result(Slot, float* host, size_t) override { return host; }
    void to_host(const float* src, size_t n, float* host) override;
    void copy(float* dst, const float* src, size_t n) override;
    void top_k(const float* x, int64_t rows, int64_t n, int k, int32_t* ids, float* values) override {
        kernels::top_k(x, rows, n, k, ids, values);
    }

    void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out) override;
    void matmul(std::span<const kernels::MatmulOut> outs, const float* x, int64_t T) override;
    using Backend::matmul;
    void rms_norm(const float* x, const std::vector<float>& w, int64_t T, int64_t D, float eps, float* out) override;
    void layer_norm(const float* x, const std::vector<float>& w, const std::vector<float>& b, int64_t T, int64_t D,
                    float eps, float* out) override;
    void rope_angles(const int32_t* positions, int64_t T, int64_t rot_dim, const std::vector<float>& inv_freq,
                     float mscale, float* cos_sin) override;
    void rope(float* q, int64_t H, float* k, int64_t Hkv, int64_t T, int64_t Dh, const float* cos_sin,
              kernels::RopeMode mode, int64_t rot_dim) override;
    void store_kv(const float* k, const float* v, int64_t T, int64_t n, void* k_cache, void* v_cache,
                  const int32_t* positions, DType cache_dtype) override;
    void attention(const float* q, std::span<const AttentionRun> runs, int64_t H, int64_t Hkv, int64_t Dh,
                   DType cache_dtype, const int32_t* q_pos, int window, float scale, float softcap,
                   float* out) override;
    void gated(Activation act, const float* gate, const float* up, int64_t T, int64_t width, float* out) override;
    void activation(Activation act, const float* x, int64_t n, float* out) override;
    void softcap(float* x, int64_t n, float cap) override;
    void multiply(float* x, int64_t n, float s) override;
    void add(float* y, const float* x, int64_t n) override;
    void add_bias(float* y, const std::vector<float>& b, int64_t T, int64_t D) override;

private:
    ThreadPool* pool_;
    std::array<std::vector<float>, size_t(Slot::count)> buffers_;
};

}  // namespace slm::model
