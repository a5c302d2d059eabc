// The launchers of the CUDA kernels (the .cu files), over raw device pointers and sizes already
// checked by ops.cpp. This is the seam between nvcc-compiled code and the C++ host code: it holds
// nothing nvcc cannot compile (no fmt), and ops.h is what the rest of slm calls.
#pragma once

#include <slm/dtype.h>

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace slm::cuda::launch {

// matvec.cu
constexpr int kMaxMatvecTokens = 8;
bool matvec_reads(DType w);     // a kernel exists for this weight dtype
bool matvec_takes_q8(DType w);  // ... and it reads 8-bit activations (quantize_q8 first)
void quantize_q8(const float* x, int64_t T, int64_t K, void* q8, cudaStream_t stream);
// rows_per_warp: 1, 2 or 4 rows of W per warp; 0 takes matvec_rows_per_warp (the benchmark
// measures each choice, docs/cuda.md).
int matvec_rows_per_warp(int64_t N, int T);
// One matrix of a launch: W [N, K] of the launch's dtype, y [T, N].
struct MatvecOut {
    const void* W;
    int64_t N;
    float* y;
};
// The 1/rms of an RMS norm that its kernel left to the matvec reading its output next
// (rms_norm_deferred): each token's sums of squares over chunks of kNormScaleChunk of its K values,
// and the norm's epsilon; the matvec multiplies each token's outputs by rsqrt(sum / K + eps).
// sums null: no scale.
struct NormScale {
    const float* sums = nullptr;
    float eps = 0.0f;
};
constexpr int kNormScaleChunk = 256;
// At most this many groups of 32 a row (K <= 8192): a lane holds one chunk's sum of each token.
constexpr int64_t kMaxNormScaleGroups = 32 * kNormScaleChunk / 32;
// Up to kMaxMatvecOuts matrices of one dtype and row length K reading the same x, in one launch.
constexpr int kMaxMatvecOuts = 4;
void matvec(DType w, const MatvecOut* outs, int count, int64_t K, const float* x, const void* x_q8, int T,
            cudaStream_t stream, int rows_per_warp = 0, NormScale scale = {});
inline void matvec(DType w, const void* W, int64_t N, int64_t K, const float* x, const void* x_q8, int T, float* y,
                   cudaStream_t stream, int rows_per_warp = 0) {
    const MatvecOut out{W, N, y};
    matvec(w, &out, 1, K, x, x_q8, T, stream, rows_per_warp, {});
}

// weight_layout.cu: rows [first_row, first_row + chunk_rows) of a [rows, K] matrix, in the file's
// layout at `raw`, into the GPU's layout of the whole matrix at W (weight_slices.cuh), for the
// types that split their blocks; the others are copied as they are.
bool splits_blocks(DType w);
void split_blocks(DType w, const void* raw, int64_t rows, int64_t first_row, int64_t chunk_rows, int64_t K, void* W,
                  cudaStream_t stream);

// dequantize.cu: rows [first_row, first_row + chunk_rows) of a [rows, K] matrix of a matvec type
// (not f16) as f16, row-major.
void dequantize_f16(DType w, const void* W, int64_t rows, int64_t first_row, int64_t chunk_rows, int64_t K, void* out,
                    cudaStream_t stream);

// get_rows.cu: E [V, D]
bool get_rows_reads(DType e);
void get_rows(DType e, const void* E, int64_t V, int64_t D, const int32_t* ids, int64_t T, float* out,
              cudaStream_t stream);

// elementwise.cu
// q8 (or null): the output also as 8-bit activations (q8_activations.cuh), T * D a multiple of 32.
// D at most kMaxNormWidth (a thread holds up to 32 values in registers).
constexpr int64_t kMaxNormWidth = 32 * 1024;
void rms_norm(float* x, const float* residual, const float* w, int64_t T, int64_t D, float eps, float* out, void* q8,
              cudaStream_t stream);
// x += residual; out = x * w and its 8-bit copy q8; sums[t, c] = the sum of squares of row t's
// values [c * kNormScaleChunk, (c + 1) * kNormScaleChunk) (D a multiple of 32): the norm without
// its 1/rms, which the matvec reading q8 applies (NormScale). A block a chunk: the whole GPU, not
// one block a row.
void rms_norm_deferred(float* x, const float* residual, const float* w, int64_t T, int64_t D, float* out, void* q8,
                       float* sums, cudaStream_t stream);
// out[t, :] *= rsqrt(sum of sums[t, :] / D + eps): rms_norm_deferred's output made the norm.
void apply_norm_scale(float* out, const float* sums, int64_t T, int64_t D, float eps, cudaStream_t stream);
void rope_angles(const int32_t* positions, int64_t T, int64_t Dh, const float* inv_freq, float mscale,
                 float* cos_sin, cudaStream_t stream);
void layer_norm(const float* x, const float* w, const float* b, int64_t T, int64_t D, float eps, float* out,
                cudaStream_t stream);
void rope(float* x, int64_t H, float* x2, int64_t H2, int64_t T, int64_t Dh, int64_t rot_dim, const float* cos_sin,
          bool neox, cudaStream_t stream);
// rope of q and k, then k and v into their caches at positions (f16 or f32), in one launch
void rope_store(float* q, int64_t H, float* k, int64_t Hkv, const float* v, int64_t T, int64_t Dh, int64_t rot_dim,
                const float* cos_sin, bool neox, void* k_cache, void* v_cache, bool f16, const int32_t* positions,
                cudaStream_t stream);
void silu_mul(const float* gate, const float* up, int64_t n, float* out, void* q8, cudaStream_t stream);
void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out, void* q8, cudaStream_t stream);
void gelu_mul(const float* gate, const float* up, int64_t n, float* out, void* q8, cudaStream_t stream);
void gelu_tanh(const float* x, int64_t n, float* out, cudaStream_t stream);
void gelu(const float* x, int64_t n, float* out, cudaStream_t stream);
void softcap(float* x, int64_t n, float cap, cudaStream_t stream);
void scale(float* x, int64_t n, float s, cudaStream_t stream);
void add(float* y, const float* x, int64_t n, cudaStream_t stream);
void add_bias(float* y, const float* b, int64_t T, int64_t D, cudaStream_t stream);
void to_f16(const float* x, int64_t n, void* out, cudaStream_t stream);
// pairs (1 or 2) of rows and their cache in one launch
void store_rows(const float* const rows[2], void* const cache[2], int pairs, int64_t T, int64_t n, bool f16,
                const int32_t* positions, cudaStream_t stream);
void softmax(float* x, int64_t T, int64_t n, cudaStream_t stream);

// attention.cu
int attention_splits(int64_t S);
constexpr int kMaxHeadDim = 256;
// The sequences of a batch, each with its own cache: sequence i takes the batch's tokens
// [end[i - 1], end[i]) (the first from 0), S[i] bounds the keys they see. One launch for all.
constexpr int kMaxAttentionSequences = 32;
struct AttentionSequences {
    const void* keys[kMaxAttentionSequences];
    const void* values[kMaxAttentionSequences];
    int64_t S[kMaxAttentionSequences];
    int64_t end[kMaxAttentionSequences];
    int count;
};
void attention(const float* q, const AttentionSequences& seqs, int64_t H, int64_t Hkv, int64_t Dh, bool f16_cache,
               const int32_t* q_pos, int window, float scale, float softcap, float* out, void* out_q8,
               float* partials, unsigned* done, cudaStream_t stream);

// flash_attention.cu
bool flash_attention_reads(int64_t Dh);
void flash_attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
                     const void* v_cache, int64_t S, const int32_t* q_pos, int window, float scale, float softcap,
                     float* out, cudaStream_t stream);

// top_k.cu: each of T rows' k largest of n values as keys (the value's monotone bits over the
// inverted index), largest first, into out [T, k]; scratch holds top_k_scratch_keys(T, n, k).
// k <= kMaxTopK.
constexpr int kTopKChunk = 1024;  // keys a warp selects from
constexpr int kMaxTopK = 128;     // below kTopKChunk / 2, so that every pass halves the keys at least
size_t top_k_scratch_keys(int64_t T, int64_t n, int k);
void top_k(const float* x, int64_t T, int64_t n, int k, unsigned long long* out, unsigned long long* scratch,
           cudaStream_t stream);
// Keys back into indices and values (on the host).
void decode_top_k_keys(const unsigned long long* keys, int64_t count, int32_t* ids, float* values);

// stream_read.cu
void stream_read(const void* data, size_t bytes, unsigned long long* result, cudaStream_t stream);

}  // namespace slm::cuda::launch
