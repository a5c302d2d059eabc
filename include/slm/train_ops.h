// Training ops: an f32 GEMM and the backward of every forward op the transformer uses, beside the
// forward ops of kernels.h (DESIGN.md, "Training"). Each has a scalar reference in
// slm::kernels::ref that fixes its meaning; tests compare the fast versions with the references
// and the references with finite differences of the forward. Activations and gradients are f32,
// row-major; `pool` may be null (one thread). Unless said otherwise an output is overwritten.
#pragma once

#include <slm/kernels.h>
#include <slm/tensor.h>
#include <slm/thread_pool.h>

#include <cstdint>

namespace slm::kernels {

// C[M, N] = alpha * op(A) · op(B) + beta * C, where op(A) is [M, K] and op(B) is [K, N].
// Row-major with row strides lda, ldb, ldc: A is stored [M, K] (Trans::no) or [K, M]
// (Trans::yes), B is stored [K, N] or [N, K]. beta = 0 ignores what C held (even NaN).
// LoRA's small products, attention's tiles and weight gradients (dW = dYᵀ·X) all run here.
// Each element of C is summed in the same order whatever the pool, so results do not depend on
// the thread count. Called inside a pool job, pass pool = nullptr (jobs do not nest).
enum class Trans : bool { no = false, yes = true };
void sgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool* pool);

// y[T, N] = x[T, K] · Wᵀ through a frozen weight W of any dtype and either layout, with f32
// activations (kernels::matmul quantizes them to 8 bits for quantized weights) and as a real GEMM
// on tiles of W converted to f32 (never a dequantized copy of W): the training forward. Its
// reference is ref::matmul (slm/kernels.h), which defines exactly this f32 product.
void frozen_matmul(const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool);

// The input gradient of y = x Wᵀ (kernels::matmul) through a frozen weight W: [N, K] of any dtype
// and either layout, read in place a tile of rows at a time (never a dequantized copy of W):
// dx[t, k] = sum_n dy[t, n] * W[n, k]   (dy: [T, N], dx: [T, K]); added to dx when `accumulate`.
void matmul_backward_input(const Tensor& W, const float* dy, int64_t T, float* dx, bool accumulate,
                           ThreadPool* pool);

// Backward of out = rms_norm(x) * w: dx (overwritten) from x, w and dy, all [T, D] (w: [D]);
// when dw is not null the weight's gradient is added to dw [D].
void rms_norm_backward(const float* x, const float* w, const float* dy, int64_t T, int64_t D, float eps, float* dx,
                       float* dw, ThreadPool* pool);

// Backward of kernels::rope: rotates the gradient dx: [T, H, Dh] in place by the opposite angles
// (the rotation's transpose), with the same cos_sin table (rope_angles).
void rope_backward(float* dx, int64_t T, int64_t H, int64_t Dh, const float* cos_sin, RopeMode mode,
                   ThreadPool* pool);

// Backward of out = silu(gate) * up over n elements: dgate and dup from gate, up and dout.
// dgate may alias dout (dup may not).
void silu_mul_backward(const float* gate, const float* up, const float* dout, int64_t n, float* dgate, float* dup,
                       ThreadPool* pool);

// Backward of get_rows for an f32 table being trained: dE[ids[t], :] += dout[t, :]  (dE: [V, D]).
void get_rows_backward(const float* dout, const int32_t* ids, int64_t T, int64_t D, float* dE);

// Causal self-attention of a batch of packed sequences, for training (no KV cache).
// q: [T, H, Dh]; k, v: [T, Hkv, Dh]; head h reads kv head h / (H / Hkv). Token t attends to the
// tokens j with seg_begin[t] <= j <= t (its own sequence, up to itself) and, when window > 0,
// j > t - window. out: [T, H, Dh]; lse: [T, H] receives each row's log-sum-exp of the scaled
// scores, which is all the backward needs besides its inputs (the probabilities are recomputed,
// as FlashAttention does, so no [T, T] matrix is kept).
void attention_train(const float* q, const float* k, const float* v, int64_t T, int64_t H, int64_t Hkv, int64_t Dh,
                     const int32_t* seg_begin, int window, float scale, float* out, float* lse, ThreadPool* pool);

// Backward of attention_train: dq: [T, H, Dh], dk and dv: [T, Hkv, Dh] (all overwritten) from
// the forward's inputs, its out and lse, and dout: [T, H, Dh].
void attention_train_backward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                              const float* dout, int64_t T, int64_t H, int64_t Hkv, int64_t Dh,
                              const int32_t* seg_begin, int window, float scale, float* dq, float* dk, float* dv,
                              ThreadPool* pool);

// Softmax cross-entropy of each row of logits: [T, V] against targets[t]; a row whose target is
// negative is not scored (loss 0, gradient 0). Returns the sum of the scored rows' losses
// (-log softmax(logits[t])[targets[t]], summed in double) and, when row_loss is not null, writes
// each row's loss there. Overwrites logits with the gradient of grad_scale * (that sum):
// grad_scale * (softmax(logits[t]) - onehot(targets[t])), zero rows where not scored.
double cross_entropy(float* logits, const int32_t* targets, int64_t T, int64_t V, float grad_scale, float* row_loss,
                     ThreadPool* pool);

// The references: plain loops summing in double. ref::rope_backward takes the angles as ref::rope
// does (positions, inv_freq, mscale) and rotates by their opposites; ref::matmul_backward_input
// reads W of any dtype and layout a row at a time.
namespace ref {
void sgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void matmul_backward_input(const Tensor& W, const float* dy, int64_t T, float* dx, bool accumulate);
void rms_norm_backward(const float* x, const float* w, const float* dy, int64_t T, int64_t D, float eps, float* dx,
                       float* dw);
void rope_backward(float* dx, int64_t T, int64_t H, int64_t Dh, const int32_t* positions, const float* inv_freq,
                   float mscale, RopeMode mode);
void silu_mul_backward(const float* gate, const float* up, const float* dout, int64_t n, float* dgate, float* dup);
void attention_train(const float* q, const float* k, const float* v, int64_t T, int64_t H, int64_t Hkv, int64_t Dh,
                     const int32_t* seg_begin, int window, float scale, float* out, float* lse);
void attention_train_backward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                              const float* dout, int64_t T, int64_t H, int64_t Hkv, int64_t Dh,
                              const int32_t* seg_begin, int window, float scale, float* dq, float* dk, float* dv);
double cross_entropy(float* logits, const int32_t* targets, int64_t T, int64_t V, float grad_scale, float* row_loss);
}  // namespace ref

}  // namespace slm::kernels
