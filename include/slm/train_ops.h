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

// A teacher's logits for distill_loss, one row per student row. Dense (ids null): row t is
// logits[t * ld .. t * ld + k), the logits of token ids 0..k-1 (k <= V, ld >= k). Top-k (ids not
// null): row t is the k pairs (ids[t * k + j], logits[t * k + j]), distinct ids in [0, V); ld is
// ignored. A logit may be -inf (a masked token, probability 0), never NaN or +inf.
// The teacher's distribution p over the student's vocabulary:
// - lse null: the softmax over the given logits, zero elsewhere (for top-k: renormalized over the
//   k ids, which makes p sharper than the teacher's own distribution);
// - lse set (top-k only): lse[t] is the teacher's log-sum-exp over its whole vocabulary of
//   logits / temperature, at the temperature distill_loss is called with. The k given ids get
//   their exact probabilities p_i = exp(logit_i / tau - lse[t]), and the rest of the mass,
//   r = max(0, 1 - sum_i p_i), is one tail bucket over the ids not given (none when k = V).
struct TeacherLogits {
    const float* logits = nullptr;
    const int32_t* ids = nullptr;
    int64_t k = 0;
    int64_t ld = 0;
    const float* lse = nullptr;  // [T], finite; top-k only
};

// Sums over rows of distill_loss's two terms, each in double: CE over the scored rows, and KL
// over all rows (not scaled by temperature^2).
struct DistillSums {
    double ce = 0;
    double kl = 0;
};

// Knowledge-distillation loss of student logits [T, V] against a teacher, per row t:
//   loss_t = (1 - alpha) * CE(z_t, targets[t]) + alpha * tau^2 * KL_t
// with q_t = softmax(z_t / tau) over the whole vocabulary and p_t the teacher's distribution
// (TeacherLogits). Without lse, KL_t = KL(p_t || q_t) = sum_i p_i (log p_i - log q_i) (terms with
// p_i = 0 are 0): for a dense teacher, PyTorch's
//   F.kl_div(F.log_softmax(z / tau, -1), F.softmax(teacher / tau, -1), reduction='sum').
// With lse, both distributions are coarsened to k + 1 buckets, the k given ids and the tail:
//   KL_t = sum_{i in top} p_i (log p_i - log q_i) + r (log r - log q_r),  q_r = sum_{j not in top} q_j,
// a lower bound of the full KL(p || q), equal when the tail holds no teacher mass (r = 0).
// The tau^2 keeps the soft term's gradient on the scale of CE's as tau grows (Hinton et al. 2015).
// A row whose target is negative has no CE term but keeps its KL term; `targets` may be null: no
// row is scored (alpha still weighs the KL term; pass alpha = 1 for a pure KL loss).
// Overwrites logits with the gradient of grad_scale * sum_t loss_t:
//   grad_scale * ((1 - alpha) * (softmax(z) - onehot(target)) + alpha * tau * (softmax(z / tau) - p)),
// where with lse a tail id j has p_j = r * q_j / q_r (the teacher's tail mass spread as the
// student spreads its own).
// fail()s on a teacher id or target outside [0, V), k outside [1, V], alpha outside [0, 1], a
// temperature that is not positive and finite, lse with a dense teacher or an lse that is not
// finite. The sums do not depend on the thread count.
DistillSums distill_loss(float* logits, const int32_t* targets, const TeacherLogits& teacher, int64_t T, int64_t V,
                         float alpha, float temperature, float grad_scale, ThreadPool* pool);

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
DistillSums distill_loss(float* logits, const int32_t* targets, const TeacherLogits& teacher, int64_t T, int64_t V,
                         float alpha, float temperature, float grad_scale);
}  // namespace ref

}  // namespace slm::kernels
