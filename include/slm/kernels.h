// CPU kernels: the fixed set of ops the transformer forward is written against (DESIGN.md,
// Backend). Each op has a scalar reference (namespace slm::kernels::ref) that defines its meaning
// and a fast version (namespace slm::kernels) tested against it. Activations are f32, row-major;
// weights may be of any DType with a to_float in the table. `pool` may be null (one thread).
#pragma once

#include <slm/tensor.h>
#include <slm/thread_pool.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

namespace slm::kernels {

// y[t, n] = sum_k W[n, k] * x[t, k]  for t < T.  W: [N, K] any dtype; x: [T, K]; y: [T, N].
void matmul(const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool);

// Several weights sharing the input x (q/k/v, gate/up): for each, y = x W^T as above, with the
// same values as one matmul per weight, in one job for the pool per activation format (GEMMs) or
// weight dtype (row dots).
struct MatmulOut {
    const Tensor* W;  // [N_i, K]
    float* y;         // [T, N_i]
};
void matmul(std::span<const MatmulOut> outs, const float* x, int64_t T, ThreadPool* pool);

// A copy of W in the layout this CPU's matmul reads fastest (Layout::interleaved8: q4_0, q5_0,
// q8_0, q4_k and q6_k matrices with a multiple of 8 rows, on AVX2), or nothing when the file's
// layout is the best it has. Made once at load (it reads all of W); matmul and get_rows (a tied
// embedding table) read the result. `copied(first, end)`, if given, is called as each slice of W's
// rows has been read, so that a caller can let their memory go while the rest is copied.
std::optional<OwnedTensor> interleave_for_matmul(const Tensor& W,
                                                 const std::function<void(int64_t first, int64_t end)>& copied = {});

// out[t, :] = row ids[t] of the embedding table E: [V, D] any dtype, converted to f32.
void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out, ThreadPool* pool);

// out[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * w   (w: f32 [D]); out may alias x.
void rms_norm(const float* x, const float* w, int64_t T, int64_t D, float eps, float* out, ThreadPool* pool);

// out[t, :] = (x[t, :] - mean) / sqrt(var + eps) * w + b, mean and (biased) variance over the row's
// D values (BERT's and Phi-2's LayerNorm). w or b may be null, meaning ones or zeros; out may alias x.
void layer_norm(const float* x, const float* w, const float* b, int64_t T, int64_t D, float eps, float* out,
                ThreadPool* pool);

// How rotary embedding pairs dimensions: `neox` rotates (i, i + d/2) (Hugging Face's
// rotate_half, Qwen2, GGUF qwen2); `normal` rotates (2i, 2i + 1) (GGUF llama, whose q/k weights
// llama.cpp's converter permuted). Both give the same result on their own weight layout.
enum class RopeMode { normal, neox };

// The rotation of every token of a batch: angle for pair i at position p is p * inv_freq[i]
// (inv_freq: [Dh/2], scaling already folded in); cos_sin: [T, Dh] holds for token t the Dh/2
// cosines, then the Dh/2 sines, each times `mscale` (yarn). Computed once per forward pass and
// shared by q and k of every layer.
void rope_angles(const int32_t* positions, int64_t T, int64_t Dh, const float* inv_freq, float mscale, float* cos_sin,
                 ThreadPool* pool);

// Rotates x: [T, H, Dh] in place by cos_sin (rope_angles). With rot_dim > 0 (partial rotary,
// Phi-2), only the first rot_dim dimensions of each head turn, paired within them, and cos_sin
// is [T, rot_dim] (rope_angles with Dh = rot_dim); the rest pass through.
void rope(float* x, int64_t T, int64_t H, int64_t Dh, const float* cos_sin, RopeMode mode, ThreadPool* pool,
          int64_t rot_dim = 0);

// Causal attention of T query tokens over a KV cache of one sequence.
// q: [T, H, Dh]; k_cache, v_cache: [S, Hkv, Dh] of dtype f32 or f16 (cache_dtype), holding
// positions 0..S-1; query t sees cache positions j with j <= q_pos[t] and, when window > 0,
// j > q_pos[t] - window. Head h reads kv head h / (H / Hkv). out: [T, H, Dh].
// The score of a visible key is scale * (q . k), then, when softcap > 0, softcap * tanh(score /
// softcap) (Gemma 2's attention-logit soft-capping), before the softmax.
void attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
               const void* v_cache, DType cache_dtype, int64_t S, const int32_t* q_pos, int window,
               float scale, float* out, ThreadPool* pool, float softcap = 0.0f);

// The gated MLP's inner step, out[i] = act(gate[i]) * up[i] over n elements, for each activation:
// silu(x) = x / (1 + exp(-x)) (SwiGLU); gelu_tanh(x) = x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715
// x^3))) (GeGLU as Gemma computes it, PyTorch's gelu approximate="tanh"); gelu(x) = x/2 * (1 +
// erf(x / sqrt(2))) (the exact one).
void silu_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool);
void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool);
void gelu_mul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool);

// The same activations without a gate, out[i] = act(x[i]) (BERT's exact GELU, Phi-2's tanh one);
// out may alias x.
void gelu(const float* x, int64_t n, float* out, ThreadPool* pool);
void gelu_tanh(const float* x, int64_t n, float* out, ThreadPool* pool);

// x[i] = cap * tanh(x[i] / cap) in place, n elements (Gemma 2's final-logit soft-capping).
void softcap(float* x, int64_t n, float cap, ThreadPool* pool);

// x[i] *= s (Gemma's embedding scale).
void multiply(float* x, int64_t n, float s);

// y[i] += x[i]; and y[t, :] += b for a bias b of length D over T rows.
void add(float* y, const float* x, int64_t n);
void add_bias(float* y, const float* b, int64_t T, int64_t D);

// In-place softmax of each of the T rows of length n.
void softmax(float* x, int64_t T, int64_t n);

// The k largest of each of the T rows of n values (1 <= k <= n), largest first, ties in index
// order (the order of a stable sort, and of argmax for k = 1): ids and values [T, k]. The
// sampler's candidates, which a GPU finds on its side of the bus. Values must not be NaN.
void top_k(const float* x, int64_t T, int64_t n, int k, int32_t* ids, float* values);

// Reads `bytes` at `data` as fast as this CPU can, split over the pool: the memory-bandwidth
// yardstick decode speed is compared with. Returns a checksum of every byte read (so the reads
// cannot be optimised away).
uint64_t stream_read(const void* data, size_t bytes, ThreadPool* pool);

namespace ref {
void matmul(const Tensor& W, const float* x, int64_t T, float* y);
void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out);
void rms_norm(const float* x, const float* w, int64_t T, int64_t D, float eps, float* out);
void layer_norm(const float* x, const float* w, const float* b, int64_t T, int64_t D, float eps, float* out);
void rope(float* x, int64_t T, int64_t H, int64_t Dh, const int32_t* positions, const float* inv_freq,
          float mscale, RopeMode mode, int64_t rot_dim = 0);
void attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
               const void* v_cache, DType cache_dtype, int64_t S, const int32_t* q_pos, int window,
               float scale, float* out, float softcap = 0.0f);
void silu_mul(const float* gate, const float* up, int64_t n, float* out);
void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out);
void gelu_mul(const float* gate, const float* up, int64_t n, float* out);
void gelu(const float* x, int64_t n, float* out);
void gelu_tanh(const float* x, int64_t n, float* out);
void softcap(float* x, int64_t n, float cap);
void softmax(float* x, int64_t T, int64_t n);
}  // namespace ref

}  // namespace slm::kernels
