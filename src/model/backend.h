// Backend: the op set the transformer forward (model.cpp) is written against, on activation
// memory the backend provides. CpuBackend (cpu_backend.h) calls kernels:: on host memory;
// CudaBackend (cuda/cuda_backend.cpp, built with SLM_CUDA) queues cuda:: kernels on one stream
// over copies of the weights in GPU memory. Weights and vectors are named by their host objects
// (the ModelWeights the model bound), which a device backend maps to its own copies.
#pragma once

#include <slm/kernels.h>
#include <slm/tensor.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace slm {
class Model;
}

namespace slm::model {

// The MLP's activation, gated (act(gate) * up) or plain (act(x)): silu for SwiGLU, gelu_tanh
// (PyTorch's approximate="tanh") and gelu (erf) for GeGLU and Phi-2's MLP.
enum class Activation : uint8_t { silu, gelu_tanh, gelu };

// Consecutive batch entries [begin, end) of one sequence attending over the first `length`
// positions of that sequence's cache blocks (kernels::attention's k_cache and v_cache), which hold
// `capacity` positions (a bound on `length` that stays the same from one step to the next).
struct AttentionRun {
    int64_t begin, end;
    const void *keys, *values;
    int64_t length, capacity;
};

class Backend {
public:
    virtual ~Backend() = default;

    // --- Steps --------------------------------------------------------------------------------
    // Opens a forward of this shape: the values that, with the model, fix every op's arguments
    // except the token ids and positions (which the ops read from ints()). A device backend may
    // record the ops of one step and replay them for the next step of the same shape (a CUDA
    // graph: one launch instead of hundreds); the CPU runs each op as it comes.
    virtual void begin_step(std::span<const int64_t> shape) { (void)shape; }
    // Whether begin_step reads the shape (the forward builds it only then).
    virtual bool replays_steps() const { return false; }
    // The step's ops are all queued by its first to_host; a step that reads nothing back ends
    // with end_step instead.
    virtual void end_step() {}

    // --- Memory -------------------------------------------------------------------------------
    // The forward's activations, one buffer per role, each at least n floats; a device backend
    // keeps them between calls (a step's pointers stay the same from one token to the next).
    enum class Slot : uint8_t { x, xn, q, k, v, att, gate, up, proj, rope, rope_local, logits, count };
    virtual float* buffer(Slot slot, size_t n) = 0;
    // Token ids or positions in the backend's memory (the host's own array on the CPU).
    enum class IntSlot : uint8_t { tokens, positions, count };
    virtual const int32_t* ints(IntSlot slot, std::span<const int32_t> host) = 0;
    // Where an op writes n floats bound for the host array `host` (the logits): that array itself
    // on the CPU, the slot's buffer on a device.
    virtual float* result(Slot slot, float* host, size_t n) = 0;
    // n floats of the backend's memory into host memory (the logits), waiting for the ops before;
    // nothing when src is host.
    virtual void to_host(const float* src, size_t n, float* host) = 0;
    // The k largest of each of `rows` rows of n floats (kernels::top_k: largest first, ties to the
    // lower index) into host memory, ids and values [rows, k]; like to_host, waits for the ops
    // before. A device sends k ids and values a row across instead of n floats (the logits).
    virtual void top_k(const float* x, int64_t rows, int64_t n, int k, int32_t* ids, float* values) = 0;
    // n floats from src to dst within the backend's memory (the ranges do not overlap).
    virtual void copy(float* dst, const float* src, size_t n) = 0;

    // --- Ops (meanings: include/slm/kernels.h) ------------------------------------------------
    virtual void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out) = 0;
    virtual void matmul(std::span<const kernels::MatmulOut> outs, const float* x, int64_t T) = 0;
    void matmul(const Tensor& W, const float* x, int64_t T, float* y) {
        const kernels::MatmulOut out[] = {{&W, y}};
        matmul(out, x, T);
    }
    virtual void rms_norm(const float* x, const std::vector<float>& w, int64_t T, int64_t D, float eps, float* out) = 0;
    // x += residual, then out = rms_norm(x): a block's output joins the residual stream in the
    // next norm, which a device backend does in one launch.
    virtual void add_rms_norm(float* x, const float* residual, const std::vector<float>& w, int64_t T, int64_t D,
                              float eps, float* out) {
        add(x, residual, T * D);
        rms_norm(x, w, T, D, eps, out);
    }
    // b may be empty (no bias).
    virtual void layer_norm(const float* x, const std::vector<float>& w, const std::vector<float>& b, int64_t T,
                            int64_t D, float eps, float* out) = 0;
    virtual void rope_angles(const int32_t* positions, int64_t T, int64_t rot_dim, const std::vector<float>& inv_freq,
                             float mscale, float* cos_sin) = 0;
    // q [T, H, Dh] and k [T, Hkv, Dh] turned by the angles of their tokens.
    virtual void rope(float* q, int64_t H, float* k, int64_t Hkv, int64_t T, int64_t Dh, const float* cos_sin,
                      kernels::RopeMode mode, int64_t rot_dim) = 0;
    // Keys and values of T tokens, rows [T, n] each, into rows positions[0..T) of their cache
    // blocks of `cache_dtype` (f32, or f16 rounded to nearest); positions as ints() returned them.
    virtual void store_kv(const float* k, const float* v, int64_t T, int64_t n, void* k_cache, void* v_cache,
                          const int32_t* positions, DType cache_dtype) = 0;
    // rope, then store_kv of the turned keys and the values of one sequence's T tokens (Hkv * Dh
    // values a token): a device backend does both in one launch.
    virtual void rope_store_kv(float* q, int64_t H, float* k, int64_t Hkv, const float* v, int64_t T, int64_t Dh,
                               const float* cos_sin, kernels::RopeMode mode, int64_t rot_dim, void* k_cache,
                               void* v_cache, const int32_t* positions, DType cache_dtype) {
        rope(q, H, k, Hkv, T, Dh, cos_sin, mode, rot_dim);
        store_kv(k, v, T, Hkv * Dh, k_cache, v_cache, positions, cache_dtype);
    }
    // Each run's queries q[begin..end) attend over its cache; q_pos: the batch's positions.
    virtual void attention(const float* q, std::span<const AttentionRun> runs, int64_t H, int64_t Hkv, int64_t Dh,
                           DType cache_dtype, const int32_t* q_pos, int window, float scale, float softcap,
                           float* out) = 0;
    // act(gate) * up over T rows of `width` values.
    virtual void gated(Activation act, const float* gate, const float* up, int64_t T, int64_t width, float* out) = 0;
    virtual void activation(Activation act, const float* x, int64_t n, float* out) = 0;
    virtual void softcap(float* x, int64_t n, float cap) = 0;
    virtual void multiply(float* x, int64_t n, float s) = 0;
    virtual void add(float* y, const float* x, int64_t n) = 0;
    virtual void add_bias(float* y, const std::vector<float>& b, int64_t T, int64_t D) = 0;
};

// --- Devices -----------------------------------------------------------------------------------
// Whether this build has CUDA and a GPU is present (false, not an error, otherwise).
bool cuda_available();
// A backend holding copies of `model`'s weights in GPU memory (an slm::Error naming the bytes
// needed and free when they do not fit, or the build has no CUDA).
std::unique_ptr<Backend> make_cuda_backend(const Model& model);
// Zeroed memory of `bytes` on `device`, freed with the pointer (the KV cache's blocks).
std::shared_ptr<uint8_t> allocate_zeroed(Device device, size_t bytes);
// bytes from src to dst, both in `device`'s memory.
void copy_bytes(Device device, void* dst, const void* src, size_t bytes);

}  // namespace slm::model
