// matmul y = x W^T for any weight dtype: activations converted once to the weight type's
// ActFormat (8-bit blocks for quantized weights), then output rows split across the pool, each
// thread walking row tiles x token groups so that a weight row is unpacked once per 4 tokens
// and stays in L1 while the token tile's activations stay in L2.
#include <slm/kernels.h>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reference/row_to_float.h"
#include "kernels/cpu/row_dot.h"
#include "kernels/cpu/scratch.h"

#include <algorithm>
#include <vector>

namespace slm::kernels {
namespace {

constexpr int64_t kTokenTile = 64;  // tokens whose activations are reused across a row tile
constexpr int64_t kRowTile = 24;    // weight rows kept hot while a token tile streams past (a multiple of
                                    // every row tile kernel's rows, so that none runs short)
// Below this many multiply-adds per thread, waking the pool costs more than it saves (tiny
// models, small heads): such chunks are merged and run on fewer threads.
constexpr int64_t kMinMacsPerThread = int64_t(1) << 17;

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

int64_t row_grain(int64_t K, int64_t T) { return std::max<int64_t>(1, kMinMacsPerThread / std::max<int64_t>(1, K * T)); }

// Weights without a row dot kernel (q5_0, nf4, ...): each row converted to f32 by the table.
void matmul_by_conversion(const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool) {
    const ToFloatFn to_float = detail::to_float_or_throw(W.dtype, "matmul");
    const int64_t N = W.rows(), K = W.row_length();
    parallel_rows(pool, N, [&](int64_t begin, int64_t end) {
        std::vector<float> row(static_cast<size_t>(K));
        for (int64_t n = begin; n < end; ++n) {
            to_float(W.row(n), row.data(), K);
            for (int64_t t = 0; t < T; ++t) {
                float sum = 0;
                for (int64_t k = 0; k < K; ++k) sum += row[size_t(k)] * x[t * K + k];
                y[t * N + n] = sum;
            }
        }
    });
}

// The T activation rows in `format` (x itself for f32), rows x_stride bytes apart, in the calling
// thread's scratch.
const uint8_t* activations_as(ActFormat format, const float* x, int64_t T, int64_t K, size_t x_stride, ThreadPool* pool) {
    if (format == ActFormat::f32) return reinterpret_cast<const uint8_t*>(x);
    auto* quantized = static_cast<uint8_t*>(scratch(x_stride * size_t(T)));
    auto quantize_rows = [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) quantize_activation_row(format, x + t * K, K, quantized + size_t(t) * x_stride);
    };
    if (T >= 4) parallel_rows(pool, T, quantize_rows);
    else quantize_rows(0, T);
    return quantized;
}

GemmFn gemm_for(DType t, Isa isa) { return isa == Isa::avx2 ? gemms_avx2()[size_t(t)] : nullptr; }

}  // namespace

void matmul_by_gemm(GemmFn gemm, const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool) {
    // 32-row chunks (4 packed panels) handed out by parallel_chunks; each chunk re-reads the
    // activations, from L2/L3. Small matmuls (tiny models) stay on the calling thread.
    constexpr int64_t kChunkRows = 32;
    const int64_t N = W.rows(), K = W.row_length();
    const size_t x_stride = activation_row_bytes(ActFormat::q8_32, K);
    const uint8_t* act = activations_as(ActFormat::q8_32, x, T, K, x_stride, pool);
    const size_t w_stride = W.row_bytes();
    const auto* w_bytes = static_cast<const uint8_t*>(W.data);
    parallel_chunks(K * T * N < 2 * kMinMacsPerThread ? nullptr : pool, N, kChunkRows, [&](int64_t n_begin, int64_t n_end) {
        gemm(w_bytes + size_t(n_begin) * w_stride, w_stride, n_end - n_begin, K, act, x_stride, T, y + n_begin, N);
    });
}

void matmul_with(const RowDot& kernel, const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool) {
    const int64_t N = W.rows(), K = W.row_length();
    const size_t x_stride = activation_row_bytes(kernel.act, K);
    const uint8_t* act_bytes = activations_as(kernel.act, x, T, K, x_stride, pool);
    const size_t w_stride = W.row_bytes();
    const auto* w_bytes = static_cast<const uint8_t*>(W.data);
    // About 32 chunks of rows (no fewer rows than row_grain) taken from a shared counter.
    const int64_t chunk_rows = round_up(std::max(row_grain(K, T), (N + 31) / 32), kRowTile);
    parallel_chunks(pool, N, chunk_rows, [&](int64_t n_begin, int64_t n_end) {
        float out[kMaxTileRows * kMaxDotRows];
        for (int64_t t0 = 0; t0 < T; t0 += kTokenTile) {
            const int64_t t_end = std::min(T, t0 + kTokenTile);
            for (int64_t n0 = n_begin; n0 < n_end; n0 += kRowTile) {
                const int64_t n_tile_end = std::min(n_end, n0 + kRowTile);
                for (int64_t t = t0; t < t_end; t += kMaxDotRows) {
                    const int R = int(std::min<int64_t>(kMaxDotRows, t_end - t));
                    const uint8_t* act = act_bytes + size_t(t) * x_stride;
                    for (int64_t n = n0; n < n_tile_end;) {
                        const uint8_t* w = w_bytes + size_t(n) * w_stride;
                        int M = 1;
                        if (kernel.tile != nullptr) M = kernel.tile(K, w, w_stride, n_tile_end - n, act, x_stride, R, out);
                        else kernel.fn(K, w, act, x_stride, R, out);
                        for (int m = 0; m < M; ++m)
                            for (int r = 0; r < R; ++r) y[(t + r) * N + n + m] = out[m * R + r];
                        n += M;
                    }
                }
            }
        }
    });
}

void matmul(const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool) {
    const GemmFn gemm = T >= kGemmMinTokens ? gemm_for(W.dtype, best_isa()) : nullptr;
    if (gemm != nullptr) matmul_by_gemm(gemm, W, x, T, y, pool);
    else if (const RowDot* kernel = row_dot(W.dtype, best_isa())) matmul_with(*kernel, W, x, T, y, pool);
    else matmul_by_conversion(W, x, T, y, pool);
}

}  // namespace slm::kernels
