// The CUDA ops' checks (ops.h): shapes, types and alignment verified on the host with errors that
// name the op and the value, then the kernel queued through launch.h, and its launch checked.
#include "kernels/cuda/ops.h"

#include "kernels/cuda/device.h"
#include "kernels/cuda/launch.h"

#include <slm/error.h>

#include <algorithm>

#include <cstdint>

namespace slm::cuda {

static_assert(kMaxMatvecTokens == launch::kMaxMatvecTokens);

namespace {

void check_launch(const char* op) { check(cudaGetLastError(), op); }

bool aligned(const void* p, size_t alignment) { return reinterpret_cast<uintptr_t>(p) % alignment == 0; }

void check_device_matrix(const Tensor& W, const char* op) {
    if (W.device != Device::cuda) fail("cuda::{}: the weight is not on the device", op);
    if (W.layout != Layout::rows) fail("cuda::{}: the weight is not in the file's row layout", op);
    if (W.ndim() != 2) fail("cuda::{}: the weight has {} dimensions, not 2", op, W.ndim());
}

}  // namespace

void copy_weight_to_device(const Tensor& host, void* device_dst, size_t staging_bytes) {
    if (!aligned(device_dst, 16)) fail("cuda::copy_weight_to_device: the destination is not 16-byte aligned");
    if (!launch::splits_blocks(host.dtype) || host.nbytes() == 0) {
        copy_to_device(device_dst, host.data, host.nbytes());
        return;
    }
    if (host.layout != Layout::rows || host.ndim() != 2)
        fail("cuda::copy_weight_to_device: a {} weight of shape {} is not a row-layout matrix", name(host.dtype),
             shape_string(host.shape));
    // A staging copy of some rows at a time in the file's layout, split by a kernel.
    const int64_t rows = host.dim(0), K = host.dim(1);
    const size_t row_bytes = host.row_bytes();
    const int64_t chunk = std::max<int64_t>(1, int64_t(staging_bytes / row_bytes));
    const DeviceBuffer staging = DeviceBuffer::allocate(size_t(std::min(chunk, rows)) * row_bytes);
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const int64_t n = std::min(chunk, rows - r0);
        copy_to_device(staging.data(), static_cast<const uint8_t*>(host.data) + size_t(r0) * row_bytes,
                       size_t(n) * row_bytes);
        launch::split_blocks(host.dtype, staging.data(), rows, r0, n, K, device_dst, nullptr);
        check_launch("copy_weight_to_device");
    }
    check(cudaDeviceSynchronize(), "copy_weight_to_device");
}

bool matvec_reads(DType w) { return launch::matvec_reads(w); }
bool matvec_takes_q8(DType w) { return launch::matvec_takes_q8(w); }

size_t q8_activations_bytes(int64_t T, int64_t K) {
    return size_t(T * K) + size_t(T * K / 32) * 2 * sizeof(float);
}

void quantize_activations(const float* x, int64_t T, int64_t K, void* x_q8, cudaStream_t stream) {
    if (K % 32 != 0) fail("cuda::quantize_activations: row length {} is not a multiple of 32", K);
    if (!aligned(x_q8, 16)) fail("cuda::quantize_activations: the output is not 16-byte aligned");
    if (T * K == 0) return;
    launch::quantize_q8(x, T, K, x_q8, stream);
    check_launch("quantize_activations");
}

static_assert(kMaxNormScaleGroups == launch::kMaxNormScaleGroups);
static_assert(norm_scale_sums(1, 257) == 2 && launch::kNormScaleChunk == 256);

void matvec(std::span<const kernels::MatmulOut> outs, const float* x, const void* x_q8, int64_t T,
            cudaStream_t stream, NormScale norm) {
    if (outs.empty()) return;
    if (outs.size() > size_t(launch::kMaxMatvecOuts))
        fail("cuda::matvec: {} matrices in one launch, at most {}", outs.size(), launch::kMaxMatvecOuts);
    const DType dtype = outs[0].W->dtype;
    const int64_t K = outs[0].W->dim(1);
    if (!launch::matvec_reads(dtype)) fail("cuda::matvec: no kernel for weights of dtype {}", name(dtype));
    if (T < 1 || T > kMaxMatvecTokens) fail("cuda::matvec: {} tokens, the kernels take 1 to {}", T, kMaxMatvecTokens);
    const bool q8 = launch::matvec_takes_q8(dtype);
    const int64_t block = q8 ? traits(dtype).block_size : 8;
    if (K % block != 0)
        fail("cuda::matvec: row length {} of a {} weight is not a multiple of {}", K, name(dtype), block);
    if (q8 && x_q8 == nullptr)
        fail("cuda::matvec: {} weights read 8-bit activations, and none were given", name(dtype));
    if (norm.sums != nullptr && (!q8 || K / 32 > kMaxNormScaleGroups))
        fail("cuda::matvec: a norm's scale applies to quantized weights with rows of at most {} values ({} [{}])",
             32 * kMaxNormScaleGroups, name(dtype), K);
    if (!q8 && !aligned(x, 16)) fail("cuda::matvec: the activations are not 16-byte aligned");
    launch::MatvecOut launch_outs[launch::kMaxMatvecOuts];
    int count = 0;
    for (const kernels::MatmulOut& o : outs) {
        const Tensor& W = *o.W;
        check_device_matrix(W, "matvec");
        if (W.dtype != dtype || W.dim(1) != K)
            fail("cuda::matvec: one launch takes matrices of one dtype and row length ({} [{}], {} [{}])", name(dtype),
                 K, name(W.dtype), W.dim(1));
        if (!aligned(W.data, 16)) fail("cuda::matvec: the {} weight is not 16-byte aligned", name(dtype));
        if (W.dim(0) > 0) launch_outs[count++] = {W.data, W.dim(0), o.y};
    }
    if (count == 0) return;
    launch::matvec(dtype, launch_outs, count, K, x, x_q8, int(T), stream, 0, {norm.sums, norm.eps});
    check_launch("matvec");
}

void matvec(const Tensor& W, const float* x, const void* x_q8, int64_t T, float* y, cudaStream_t stream) {
    const kernels::MatmulOut out[] = {{&W, y}};
    matvec(out, x, x_q8, T, stream);
}

void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out, cudaStream_t stream) {
    check_device_matrix(E, "get_rows");
    if (!launch::get_rows_reads(E.dtype)) fail("cuda::get_rows: no kernel for a table of dtype {}", name(E.dtype));
    const int64_t D = E.dim(1);
    if (D % traits(E.dtype).block_size != 0) fail("cuda::get_rows: row length {} is not whole blocks", D);
    if (launch::matvec_takes_q8(E.dtype) && !aligned(E.data, 16))
        fail("cuda::get_rows: the {} table is not 16-byte aligned", name(E.dtype));
    if (T * D == 0) return;
    launch::get_rows(E.dtype, E.data, E.dim(0), D, ids, T, out, stream);
    check_launch("get_rows");
}

// The fused 8-bit copy of an op's n outputs: whole groups of 32, 16-byte aligned.
void check_q8_output(const void* out_q8, int64_t n, const char* op) {
    if (out_q8 == nullptr) return;
    if (n % 32 != 0) fail("cuda::{}: {} outputs do not make whole groups of 32 for 8-bit activations", op, n);
    if (!aligned(out_q8, 16)) fail("cuda::{}: the 8-bit activations are not 16-byte aligned", op);
}

void rms_norm(const float* x, const float* w, int64_t T, int64_t D, float eps, float* out, cudaStream_t stream,
              void* out_q8) {
    check_q8_output(out_q8, T * D, "rms_norm");
    if (D > launch::kMaxNormWidth) fail("cuda::rms_norm: rows of {} values (at most {})", D, launch::kMaxNormWidth);
    // The kernel writes x only when given a residual.
    launch::rms_norm(const_cast<float*>(x), nullptr, w, T, D, eps, out, out_q8, stream);
    check_launch("rms_norm");
}

void add_rms_norm(float* x, const float* residual, const float* w, int64_t T, int64_t D, float eps, float* out,
                  cudaStream_t stream, void* out_q8) {
    check_q8_output(out_q8, T * D, "add_rms_norm");
    if (D > launch::kMaxNormWidth)
        fail("cuda::add_rms_norm: rows of {} values (at most {})", D, launch::kMaxNormWidth);
    launch::rms_norm(x, residual, w, T, D, eps, out, out_q8, stream);
    check_launch("add_rms_norm");
}

void rms_norm_deferred(float* x, const float* residual, const float* w, int64_t T, int64_t D, float* out,
                       void* out_q8, float* sums, cudaStream_t stream) {
    if (D % 32 != 0 || D / 32 > kMaxNormScaleGroups)
        fail("cuda::rms_norm_deferred: rows of {} values (a multiple of 32, at most {})", D, 32 * kMaxNormScaleGroups);
    if (out_q8 == nullptr || sums == nullptr) fail("cuda::rms_norm_deferred: no 8-bit output or sums given");
    check_q8_output(out_q8, T * D, "rms_norm_deferred");
    launch::rms_norm_deferred(x, residual, w, T, D, out, out_q8, sums, stream);
    check_launch("rms_norm_deferred");
}

void apply_norm_scale(float* out, const float* sums, int64_t T, int64_t D, float eps, cudaStream_t stream) {
    if (D % 32 != 0) fail("cuda::apply_norm_scale: rows of {} values are not whole groups of 32", D);
    launch::apply_norm_scale(out, sums, T, D, eps, stream);
    check_launch("apply_norm_scale");
}

void rope_angles(const int32_t* positions, int64_t T, int64_t Dh, const float* inv_freq, float mscale,
                 float* cos_sin, cudaStream_t stream) {
    if (Dh % 2 != 0) fail("cuda::rope_angles: head dimension {} is odd", Dh);
    launch::rope_angles(positions, T, Dh, inv_freq, mscale, cos_sin, stream);
    check_launch("rope_angles");
}

void layer_norm(const float* x, const float* w, const float* b, int64_t T, int64_t D, float eps, float* out,
                cudaStream_t stream) {
    launch::layer_norm(x, w, b, T, D, eps, out, stream);
    check_launch("layer_norm");
}

void rope(float* x, int64_t T, int64_t H, int64_t Dh, const float* cos_sin, kernels::RopeMode mode,
          cudaStream_t stream, int64_t rot_dim) {
    rope_qk(x, H, nullptr, 0, T, Dh, cos_sin, mode, stream, rot_dim);
}

namespace {

// The rotated dimensions of a head (0: all of them), checked.
int64_t rotated_dims(int64_t rot_dim, int64_t Dh) {
    if (rot_dim == 0) rot_dim = Dh;
    if (rot_dim % 2 != 0 || rot_dim > Dh)
        fail("cuda::rope: {} rotated dimensions of a head of {} (expected an even number, at most the head's)", rot_dim,
             Dh);
    return rot_dim;
}

void check_cache(const void* k_cache, const void* v_cache, DType cache_dtype, const char* op) {
    if (cache_dtype != DType::f16 && cache_dtype != DType::f32)
        fail("cuda::{}: KV cache dtype {} is not f16 or f32", op, name(cache_dtype));
    const size_t alignment = cache_dtype == DType::f16 ? 2 : 4;
    if (!aligned(k_cache, alignment) || !aligned(v_cache, alignment)) fail("cuda::{}: the cache is not aligned", op);
}

}  // namespace

void rope_qk(float* q, int64_t H, float* k, int64_t Hkv, int64_t T, int64_t Dh, const float* cos_sin,
          kernels::RopeMode mode, cudaStream_t stream, int64_t rot_dim) {
    launch::rope(q, H, k, Hkv, T, Dh, rotated_dims(rot_dim, Dh), cos_sin, mode == kernels::RopeMode::neox, stream);
    check_launch("rope");
}

void rope_store_kv(float* q, int64_t H, float* k, int64_t Hkv, const float* v, int64_t T, int64_t Dh,
                   const float* cos_sin, kernels::RopeMode mode, void* k_cache, void* v_cache, DType cache_dtype,
                   const int32_t* positions, cudaStream_t stream, int64_t rot_dim) {
    check_cache(k_cache, v_cache, cache_dtype, "rope_store_kv");
    launch::rope_store(q, H, k, Hkv, v, T, Dh, rotated_dims(rot_dim, Dh), cos_sin, mode == kernels::RopeMode::neox,
                       k_cache, v_cache, cache_dtype == DType::f16, positions, stream);
    check_launch("rope_store_kv");
}

void silu_mul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream, void* out_q8) {
    check_q8_output(out_q8, n, "silu_mul");
    launch::silu_mul(gate, up, n, out, out_q8, stream);
    check_launch("silu_mul");
}

void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream, void* out_q8) {
    check_q8_output(out_q8, n, "gelu_tanh_mul");
    launch::gelu_tanh_mul(gate, up, n, out, out_q8, stream);
    check_launch("gelu_tanh_mul");
}

void gelu_mul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream, void* out_q8) {
    check_q8_output(out_q8, n, "gelu_mul");
    launch::gelu_mul(gate, up, n, out, out_q8, stream);
    check_launch("gelu_mul");
}

void gelu_tanh(const float* x, int64_t n, float* out, cudaStream_t stream) {
    launch::gelu_tanh(x, n, out, stream);
    check_launch("gelu_tanh");
}

void gelu(const float* x, int64_t n, float* out, cudaStream_t stream) {
    launch::gelu(x, n, out, stream);
    check_launch("gelu");
}

void softcap(float* x, int64_t n, float cap, cudaStream_t stream) {
    if (!(cap > 0)) fail("cuda::softcap: the cap {} is not positive", cap);
    launch::softcap(x, n, cap, stream);
    check_launch("softcap");
}

void multiply(float* x, int64_t n, float s, cudaStream_t stream) {
    launch::scale(x, n, s, stream);
    check_launch("multiply");
}

void add(float* y, const float* x, int64_t n, cudaStream_t stream) {
    launch::add(y, x, n, stream);
    check_launch("add");
}

void add_bias(float* y, const float* b, int64_t T, int64_t D, cudaStream_t stream) {
    launch::add_bias(y, b, T, D, stream);
    check_launch("add_bias");
}

void store_f16(const float* x, int64_t n, void* out, cudaStream_t stream) {
    if (!aligned(out, 2)) fail("cuda::store_f16: the output is not 2-byte aligned");
    launch::to_f16(x, n, out, stream);
    check_launch("store_f16");
}

void store_kv(const float* rows, int64_t T, int64_t n, void* cache, DType cache_dtype, const int32_t* positions,
              cudaStream_t stream) {
    store_kv(rows, rows, T, n, cache, cache, cache_dtype, positions, stream);
}

void store_kv(const float* k_rows, const float* v_rows, int64_t T, int64_t n, void* k_cache, void* v_cache,
              DType cache_dtype, const int32_t* positions, cudaStream_t stream) {
    check_cache(k_cache, v_cache, cache_dtype, "store_kv");
    const float* rows[2] = {k_rows, v_rows};
    void* caches[2] = {k_cache, v_cache};
    // The same rows into the same cache (the one-matrix form) is one pair, not two.
    const int pairs = k_rows == v_rows && k_cache == v_cache ? 1 : 2;
    launch::store_rows(rows, caches, pairs, T, n, cache_dtype == DType::f16, positions, stream);
    check_launch("store_kv");
}

void softmax(float* x, int64_t T, int64_t n, cudaStream_t stream) {
    launch::softmax(x, T, n, stream);
    check_launch("softmax");
}

static_assert(kMaxTopK == launch::kMaxTopK);

size_t top_k_scratch_bytes(int64_t T, int64_t n, int k) {
    return launch::top_k_scratch_keys(T, n, k) * sizeof(uint64_t);
}

void top_k(const float* x, int64_t T, int64_t n, int k, uint64_t* keys, void* scratch, cudaStream_t stream) {
    if (k < 1 || k > kMaxTopK || k > n) fail("cuda::top_k: k = {} is outside 1..{} (rows of {} values)", k, kMaxTopK, n);
    if (n > int64_t(INT32_MAX)) fail("cuda::top_k: rows of {} values are too long", n);
    static_assert(sizeof(uint64_t) == sizeof(unsigned long long));
    launch::top_k(x, T, n, k, reinterpret_cast<unsigned long long*>(keys), static_cast<unsigned long long*>(scratch),
                  stream);
    check_launch("top_k");
}

void read_top_k(const uint64_t* host_keys, int64_t count, int32_t* ids, float* values) {
    launch::decode_top_k_keys(reinterpret_cast<const unsigned long long*>(host_keys), count, ids, values);
}

size_t attention_scratch_bytes(int64_t T, int64_t H, int64_t Dh, int64_t S) {
    return size_t(T * H) * size_t(launch::attention_splits(S)) * size_t(Dh + 2) * sizeof(float);
}

namespace {

void check_attention(DType cache_dtype, int64_t H, int64_t Hkv, int64_t Dh, void* out_q8, int64_t T) {
    if (cache_dtype != DType::f16 && cache_dtype != DType::f32)
        fail("cuda::attention: KV cache dtype {} is not f16 or f32", name(cache_dtype));
    if (Hkv <= 0 || H % Hkv != 0) fail("cuda::attention: {} query heads do not group over {} kv heads", H, Hkv);
    if (Dh < 1 || Dh > launch::kMaxHeadDim) fail("cuda::attention: head dimension {} is not in 1..{}", Dh, launch::kMaxHeadDim);
    if (out_q8 != nullptr && Dh % 32 != 0)
        fail("cuda::attention: 8-bit outputs need a head size that is a multiple of 32, not {}", Dh);
    check_q8_output(out_q8, T * H * Dh, "attention");
}

}  // namespace

void attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
               const void* v_cache, DType cache_dtype, int64_t S, const int32_t* q_pos, int window, float scale,
               float* out, AttentionScratch scratch, cudaStream_t stream, float softcap, void* out_q8) {
    check_attention(cache_dtype, H, Hkv, Dh, out_q8, T);
    if (S < 1) fail("cuda::attention: the KV cache is empty");
    // Prompts go to the tensor cores (16 queries fill an mma's rows); decode steps, f32 caches and
    // other head sizes to the split-key kernel.
    if (out_q8 == nullptr && T >= kFlashAttentionMinQueries && cache_dtype == DType::f16 &&
        launch::flash_attention_reads(Dh) && aligned(k_cache, 16) && aligned(v_cache, 16)) {
        launch::flash_attention(q, T, H, Hkv, Dh, k_cache, v_cache, S, q_pos, window, scale, softcap, out, stream);
        check_launch("attention");
        return;
    }
    const AttentionSequence seq{T, k_cache, v_cache, S};
    attention(q, std::span(&seq, 1), H, Hkv, Dh, cache_dtype, q_pos, window, scale, out, scratch, stream, softcap,
              out_q8);
}

void attention(const float* q, std::span<const AttentionSequence> seqs, int64_t H, int64_t Hkv, int64_t Dh,
               DType cache_dtype, const int32_t* q_pos, int window, float scale, float* out,
               AttentionScratch scratch, cudaStream_t stream, float softcap, void* out_q8) {
    if (seqs.empty()) return;
    check_attention(cache_dtype, H, Hkv, Dh, out_q8, seqs.back().end);
    static_assert(kMaxAttentionSequences == size_t(launch::kMaxAttentionSequences));
    constexpr size_t kPerLaunch = kMaxAttentionSequences;
    if (out_q8 != nullptr && seqs.size() > kPerLaunch)
        fail("cuda::attention: 8-bit outputs for {} sequences (at most {})", seqs.size(), kPerLaunch);
    int64_t previous_end = 0;
    for (const AttentionSequence& seq : seqs) {
        if (seq.S < 1) fail("cuda::attention: a sequence's KV cache is empty");
        if (seq.end < previous_end)
            fail("cuda::attention: sequence ends {} then {} go backwards", previous_end, seq.end);
        previous_end = seq.end;
    }
    const int64_t row = H * Dh;
    for (size_t first = 0; first < seqs.size(); first += kPerLaunch) {
        const int64_t begin = first == 0 ? 0 : seqs[first - 1].end;
        launch::AttentionSequences table{};
        table.count = int(std::min(kPerLaunch, seqs.size() - first));
        for (int i = 0; i < table.count; ++i) {
            const AttentionSequence& seq = seqs[first + size_t(i)];
            table.keys[i] = seq.keys, table.values[i] = seq.values, table.S[i] = seq.S, table.end[i] = seq.end - begin;
        }
        launch::attention(q + begin * row, table, H, Hkv, Dh, cache_dtype == DType::f16, q_pos + begin, window, scale,
                          softcap, out + begin * row, out_q8, static_cast<float*>(scratch.partials),
                          scratch.counts + begin * H, stream);
        check_launch("attention");
    }
}

void stream_read(const void* data, size_t bytes, unsigned long long* result, cudaStream_t stream) {
    if (bytes % 16 != 0 || !aligned(data, 16)) fail("cuda::stream_read: {} bytes are not whole aligned 16-byte words", bytes);
    launch::stream_read(data, bytes, result, stream);
    check_launch("stream_read");
}

}  // namespace slm::cuda
