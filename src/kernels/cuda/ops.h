// The CUDA backend's ops: the transformer step's fixed op set (include/slm/kernels.h) on device
// memory, each queued on a CUDA stream. Pointers are device pointers; weights are Tensors with
// device == Device::cuda in the file's row layout (Layout::rows; ModelOptions::cpu_layouts = false)
// as copy_weight_to_device places them.
// Each op's meaning is its scalar reference in slm::kernels::ref; tests/cuda compares them.
// Shapes and types a kernel cannot take throw slm::Error before anything is queued. Each op here
// has a twin in launch.h over raw, already-checked arguments: the .cu files cannot include fmt
// (nvcc does not compile its compile-time format checks), so the checking lives here, in C++.
#pragma once

#include <slm/kernels.h>
#include <slm/tensor.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace slm::cuda {

// --- Weights on the device ----------------------------------------------------------------------
// A matrix's host.nbytes() bytes into device memory (16-byte aligned) in the GPU's layout, the one
// every op here reads: q4_0, q8_0 and q6_k blocks split into their codes and their scales so that
// the codes load as 128-bit words (weight_slices.cuh); other types as in the file. Those that
// split pass through a device staging buffer of at most staging_bytes (whole rows, at least one).
void copy_weight_to_device(const Tensor& host, void* device_dst, size_t staging_bytes = size_t(64) << 20);

// --- Matrix x vector (decode and small batches) -------------------------------------------------
// y[t, n] = sum_k W[n, k] x[t, k] for t < T <= kMaxMatvecTokens. W: [N, K] of q4_0, q8_0, q4_k,
// q5_k, q6_k (K a multiple of the block size), f16 or bf16 (K a multiple of 8). The quantized
// types read x as 8-bit activations, made once per input by quantize_activations and shared by
// every weight that reads the same x (q/k/v, gate/up): pass them as x_q8. f16/bf16 read x.
constexpr int kMaxMatvecTokens = 8;
bool matvec_reads(DType w);
bool matvec_takes_q8(DType w);
// Device bytes of the 8-bit activations of T rows of K values (K a multiple of 32).
size_t q8_activations_bytes(int64_t T, int64_t K);
void quantize_activations(const float* x, int64_t T, int64_t K, void* x_q8, cudaStream_t stream);
void matvec(const Tensor& W, const float* x, const void* x_q8, int64_t T, float* y, cudaStream_t stream);
// Several matrices (W on the device, y) of one dtype and row length reading the same x, in one
// launch (q/k/v, gate/up: the small ones stop paying a launch each); at most 4. `norm`: x_q8 came
// from rms_norm_deferred, whose 1/rms the matvec applies to its outputs (quantized weights only).
struct NormScale {
    const float* sums = nullptr;
    float eps = 0.0f;
};
void matvec(std::span<const kernels::MatmulOut> outs, const float* x, const void* x_q8, int64_t T,
            cudaStream_t stream, NormScale norm = {});

// --- Matrix x matrix (prompts) ------------------------------------------------------------------
// y[t, n] = sum_k W[n, k] x[t, k] for any T, on the tensor cores through cuBLAS: f16 inputs, f32
// accumulation. x comes as f16 (store_f16 of the f32 activations, once for every weight that
// reads it); W, of any type matvec reads, is dequantized to f16 gemm_slice_rows(K) rows at a time
// into `w_f16` (gemm_scratch_bytes(K) bytes; f16 weights are read as they are). `blas` must run
// on `stream` (cublasSetStream).
int64_t gemm_slice_rows(int64_t K);
size_t gemm_scratch_bytes(int64_t K);
void gemm(const Tensor& W, const void* x_f16, int64_t T, float* y, void* w_f16, cublasHandle_t blas,
          cudaStream_t stream);

// --- Elementwise and row ops -------------------------------------------------------------------
// out[t, :] = row ids[t] of E: [V, D] (f32, f16, bf16 or a type matvec reads), as f32. The ids
// are on the device and must lie in [0, V): a kernel cannot report a bad id.
void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out, cudaStream_t stream);
// out_q8 (rms_norm and the gated activations): the output is also written as 8-bit activations,
// as quantize_activations would make them (the same bits), for the matvec that reads it next; the
// output's length a multiple of 32.
void rms_norm(const float* x, const float* w, int64_t T, int64_t D, float eps, float* out, cudaStream_t stream,
              void* out_q8 = nullptr);
// x += residual, then out = rms_norm(x): a block's output added to the residual stream inside the
// next norm (one launch instead of two; the same bits as add, then rms_norm).
void add_rms_norm(float* x, const float* residual, const float* w, int64_t T, int64_t D, float eps, float* out,
                  cudaStream_t stream, void* out_q8 = nullptr);
// add_rms_norm for a decode step, whose norm is read only by the matvecs after it: one warp per
// group of 32 values instead of one block per row, its 1/rms left to those matvecs. x +=
// residual; out = x * w and its 8-bit copy out_q8; `sums` (norm_scale_sums(T, D) floats) the sums
// of squares of each row's stretches of 256, which the matvecs take as NormScale{sums, eps}. out
// is the norm times each row's rms until apply_norm_scale(out, sums, ...) makes it the norm. D a
// multiple of 32, at most 32 * kMaxNormScaleGroups.
constexpr int64_t norm_scale_sums(int64_t T, int64_t D) { return T * ((D + 255) / 256); }
void rms_norm_deferred(float* x, const float* residual, const float* w, int64_t T, int64_t D, float* out,
                       void* out_q8, float* sums, cudaStream_t stream);
void apply_norm_scale(float* out, const float* sums, int64_t T, int64_t D, float eps, cudaStream_t stream);
constexpr int64_t kMaxNormScaleGroups = 256;
void rope_angles(const int32_t* positions, int64_t T, int64_t Dh, const float* inv_freq, float mscale,
                 float* cos_sin, cudaStream_t stream);
void layer_norm(const float* x, const float* w, const float* b, int64_t T, int64_t D, float eps, float* out,
                cudaStream_t stream);
// rot_dim > 0: only the first rot_dim dimensions of each head turn (Phi-2), cos_sin [T, rot_dim].
void rope(float* x, int64_t T, int64_t H, int64_t Dh, const float* cos_sin, kernels::RopeMode mode,
          cudaStream_t stream, int64_t rot_dim = 0);
// q [T, H, Dh] and k [T, Hkv, Dh] turned by one launch.
void rope_qk(float* q, int64_t H, float* k, int64_t Hkv, int64_t T, int64_t Dh, const float* cos_sin,
          kernels::RopeMode mode, cudaStream_t stream, int64_t rot_dim = 0);
// rope_qk, then store_kv of k (turned) and v [T, Hkv, Dh] into their caches: one launch, the same
// bits as the two.
void rope_store_kv(float* q, int64_t H, float* k, int64_t Hkv, const float* v, int64_t T, int64_t Dh,
                   const float* cos_sin, kernels::RopeMode mode, void* k_cache, void* v_cache, DType cache_dtype,
                   const int32_t* positions, cudaStream_t stream, int64_t rot_dim = 0);
void silu_mul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream,
              void* out_q8 = nullptr);
void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream,
                   void* out_q8 = nullptr);
void gelu_mul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream,
              void* out_q8 = nullptr);
void gelu_tanh(const float* x, int64_t n, float* out, cudaStream_t stream);
void gelu(const float* x, int64_t n, float* out, cudaStream_t stream);
void softcap(float* x, int64_t n, float cap, cudaStream_t stream);
void multiply(float* x, int64_t n, float s, cudaStream_t stream);
void add(float* y, const float* x, int64_t n, cudaStream_t stream);
void add_bias(float* y, const float* b, int64_t T, int64_t D, cudaStream_t stream);
void softmax(float* x, int64_t T, int64_t n, cudaStream_t stream);
// n f32 values stored as f16 (round to nearest even): keys and values into an f16 cache.
void store_f16(const float* x, int64_t n, void* out, cudaStream_t stream);
// Keys or values into the KV cache: row t of rows [T, n] into row positions[t] (on the device) of
// `cache` ([S, n] of f16, rounded as store_f16, or f32). The positions must lie in [0, S).
void store_kv(const float* rows, int64_t T, int64_t n, void* cache, DType cache_dtype, const int32_t* positions,
              cudaStream_t stream);
// Keys and values together, in one launch.
void store_kv(const float* k_rows, const float* v_rows, int64_t T, int64_t n, void* k_cache, void* v_cache,
              DType cache_dtype, const int32_t* positions, cudaStream_t stream);

// --- Attention over the KV cache --------------------------------------------------------------
// As kernels::attention: q [T, H, Dh], caches [S, Hkv, Dh] of f16 or f32, q_pos on the device,
// Dh <= 256. From kFlashAttentionMinQueries queries over an f16 cache with a head size of 64, 80,
// 96 or 128 (prompts), on the tensor cores with the queries and softmax weights rounded to f16
// (flash_attention.cu); otherwise (decode) the keys are split over blocks in f32, and `scratch`
// holds their partial sums (attention_scratch_bytes(T, H, Dh, S) bytes) and a count of finished
// splits per query and head (T * H unsigned ints, zero before the first call; the kernel, whose
// last split of each query merges them all, leaves them zero). S may be any bound on the keys
// the queries see (the cache's capacity): the result depends only on q_pos.
// out_q8 (decode, Dh a multiple of 32): the output also as 8-bit activations, as rms_norm's.
struct AttentionScratch {
    void* partials;
    unsigned* counts;
};
constexpr int64_t kFlashAttentionMinQueries = 16;
size_t attention_scratch_bytes(int64_t T, int64_t H, int64_t Dh, int64_t S);
void attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
               const void* v_cache, DType cache_dtype, int64_t S, const int32_t* q_pos, int window, float scale,
               float* out, AttentionScratch scratch, cudaStream_t stream, float softcap = 0.0f,
               void* out_q8 = nullptr);
// The split-key kernel over a batch of sequences, each with its own cache (the server's decode
// steps): sequence i's queries are rows [seqs[i - 1].end, seqs[i].end) of q (the first from 0), and
// its keys are bounded by seqs[i].S; one launch for up to 32 sequences. scratch: as above, with S
// the largest bound. out_q8 with at most 32 sequences.
constexpr size_t kMaxAttentionSequences = 32;  // a launch's, and out_q8's bound
struct AttentionSequence {
    int64_t end;
    const void *keys, *values;
    int64_t S;
};
void attention(const float* q, std::span<const AttentionSequence> seqs, int64_t H, int64_t Hkv, int64_t Dh,
               DType cache_dtype, const int32_t* q_pos, int window, float scale, float* out,
               AttentionScratch scratch, cudaStream_t stream, float softcap = 0.0f, void* out_q8 = nullptr);

// --- Selection (a sampler's candidates) --------------------------------------------------------
// kernels::top_k of x [T, n] on the device, queued: each row's k largest as 64-bit keys (value and
// index in one word) into `keys` (T * k of them, device), which read_top_k turns into ids and values
// once they are on the host. 1 <= k <= min(n, kMaxTopK); `scratch`: top_k_scratch_bytes(T, n, k).
constexpr int kMaxTopK = 128;
size_t top_k_scratch_bytes(int64_t T, int64_t n, int k);
void top_k(const float* x, int64_t T, int64_t n, int k, uint64_t* keys, void* scratch, cudaStream_t stream);
void read_top_k(const uint64_t* host_keys, int64_t count, int32_t* ids, float* values);

// --- Bandwidth yardstick -----------------------------------------------------------------------
// Reads `bytes` (a multiple of 16, 16-byte aligned) at `data` once; `result` (one device u64)
// receives a value that depends on them. What matvec's GB/s are compared with.
void stream_read(const void* data, size_t bytes, unsigned long long* result, cudaStream_t stream);

}  // namespace slm::cuda
