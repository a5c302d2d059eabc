// matmul y = x W^T for any weight dtype, and for several weights sharing one input (q/k/v,
// gate/up) in one job: activations converted once to the weight type's ActFormat (8-bit blocks
// for quantized weights), then the output rows of all the weights, laid end to end, split
// across the pool: fewer wake-ups and conversions per layer, which weigh on small models.
#include <slm/kernels.h>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reference/row_to_float.h"
#include "kernels/cpu/row_dot.h"
#include "kernels/cpu/scratch.h"

#include <slm/error.h>

#include <algorithm>
#include <span>
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

// Calls fn(out, begin, end) for the pieces of rows [first, last) of the outputs' rows laid end to
// end, each piece within one output (begin, end: that output's rows).
template <typename Fn>
void for_each_piece(std::span<const MatmulOut> outs, int64_t first, int64_t last, Fn&& fn) {
    int64_t base = 0;
    for (const MatmulOut& o : outs) {
        const int64_t N = o.W->rows();
        const int64_t begin = std::max(first, base), end = std::min(last, base + N);
        if (begin < end) fn(o, begin - base, end - base);
        base += N;
    }
}

int64_t total_rows(std::span<const MatmulOut> outs) {
    int64_t n = 0;
    for (const MatmulOut& o : outs) n += o.W->rows();
    return n;
}

// Rows [n_begin, n_end) of one output by the row dots (or row tiles): row tiles x token groups,
// so that a weight row is unpacked once per 4 tokens and stays in L1 while the token tile's
// activations stay in L2.
void rows_by_dots(const RowDot& kernel, const MatmulOut& o, int64_t n_begin, int64_t n_end, const uint8_t* act_bytes,
                  size_t x_stride, int64_t T) {
    const int64_t N = o.W->rows(), K = o.W->row_length();
    const size_t w_stride = o.W->row_bytes();
    const auto* w_bytes = static_cast<const uint8_t*>(o.W->data);
    float* y = o.y;
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
}

// outs[i] through fns[i], all taking activations in `act`: one conversion of x, one job.
void gemm_job(ActFormat act, std::span<const MatmulOut> outs, std::span<const GemmFn> fns, const float* x, int64_t T,
              ThreadPool* pool) {
    // 128-row chunks (16 panels) handed out by parallel_chunks; each chunk re-reads the
    // activations, from L2/L3. Small matmuls (tiny models) stay on the calling thread. Every
    // chunk is a new stream for the prefetchers to pick up: against 32-row chunks, decode of
    // 1.1B q4_k_m went 43.2 -> 49.4 t/s (64 rows: 47.0, 256: 48.1; medians of 6 alternations on
    // a quiet host) and tinyllama-spm-13m q8_0 (its 32000-row output matrix) 2.0-2.7k -> 3.0-3.6k,
    // prompts unchanged; still 16+ chunks for a 2048-row matrix to balance the threads.
    constexpr int64_t kChunkRows = 128;
    const int64_t N = total_rows(outs), K = outs[0].W->row_length();
    const size_t x_stride = activation_row_bytes(act, K);
    const uint8_t* act_bytes = activations_as(act, x, T, K, x_stride, pool);
    parallel_chunks(K * T * N < 2 * kMinMacsPerThread ? nullptr : pool, N, kChunkRows, [&](int64_t first, int64_t last) {
        for_each_piece(outs, first, last, [&](const MatmulOut& o, int64_t n_begin, int64_t n_end) {
            const size_t w_stride = o.W->row_bytes();
            fns[size_t(&o - outs.data())](static_cast<const uint8_t*>(o.W->data) + size_t(n_begin) * w_stride, w_stride,
                                          n_end - n_begin, K, act_bytes, x_stride, T, o.y + n_begin, o.W->rows());
        });
    });
}

}  // namespace

void matmul_by_gemm(const GemmKernel& gemm, std::span<const MatmulOut> outs, const float* x, int64_t T, ThreadPool* pool) {
    const std::vector<GemmFn> fns(outs.size(), gemm.fn);
    gemm_job(gemm.act, outs, fns, x, T, pool);
}

void matmul_with(const RowDot& kernel, std::span<const MatmulOut> outs, const float* x, int64_t T, ThreadPool* pool) {
    const int64_t N = total_rows(outs), K = outs[0].W->row_length();
    const size_t x_stride = activation_row_bytes(kernel.act, K);
    const uint8_t* act_bytes = activations_as(kernel.act, x, T, K, x_stride, pool);
    // Up to 32 equal chunks of rows taken from a shared counter, none with less work than
    // kMinMacsPerThread (one chunk, on the calling thread, for a small matmul).
    const int64_t chunks = std::clamp<int64_t>(N / row_grain(K, T), 1, 32);
    const int64_t chunk_rows = round_up((N + chunks - 1) / chunks, kRowTile);
    parallel_chunks(pool, N, chunk_rows, [&](int64_t first, int64_t last) {
        for_each_piece(outs, first, last, [&](const MatmulOut& o, int64_t n_begin, int64_t n_end) {
            rows_by_dots(kernel, o, n_begin, n_end, act_bytes, x_stride, T);
        });
    });
}

void matmul_by_gemm(const GemmKernel& gemm, const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool) {
    const MatmulOut out{&W, y};
    matmul_by_gemm(gemm, std::span(&out, 1), x, T, pool);
}

void matmul_with(const RowDot& kernel, const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool) {
    const MatmulOut out{&W, y};
    matmul_with(kernel, std::span(&out, 1), x, T, pool);
}

void matmul(std::span<const MatmulOut> outs, const float* x, int64_t T, ThreadPool* pool) {
    // Weights whose GEMMs take one activation format go through one job whatever their dtypes
    // (q4_k_m's q4_k and q6_k q/k/v: one pool wake-up and one conversion of x); the others one job
    // per dtype and layout, the row dots' unit.
    std::vector<GemmKernel> gemms(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) {
        const Tensor& W = *outs[i].W;
        if (W.row_length() != outs[0].W->row_length())
            fail("matmul: weights sharing an input have rows of {} and {} elements", outs[0].W->row_length(),
                 W.row_length());
        const GemmKernel gemm = gemm_kernel(W.dtype, W.layout, best_isa());
        if (W.layout == Layout::interleaved8 && gemm.fn == nullptr)
            fail("matmul: no {} kernel for interleaved {} weights", isa_name(best_isa()), name(W.dtype));
        if (gemm.fn != nullptr && T >= gemm.min_tokens) gemms[i] = gemm;  // else the row dots serve W
    }
    std::vector<bool> done(outs.size(), false);
    std::vector<MatmulOut> same;
    std::vector<GemmFn> fns;
    for (size_t i = 0; i < outs.size(); ++i) {
        if (done[i]) continue;
        const DType dtype = outs[i].W->dtype;
        const Layout layout = outs[i].W->layout;
        const GemmKernel& gemm = gemms[i];
        same.clear();
        fns.clear();
        for (size_t j = i; j < outs.size(); ++j) {
            const bool joins = gemm.fn != nullptr ? gemms[j].fn != nullptr && gemms[j].act == gemm.act
                                                  : outs[j].W->dtype == dtype && outs[j].W->layout == layout;
            if (done[j] || !joins) continue;
            same.push_back(outs[j]);
            fns.push_back(gemms[j].fn);
            done[j] = true;
        }
        if (gemm.fn != nullptr) gemm_job(gemm.act, same, fns, x, T, pool);
        else if (const RowDot* kernel = row_dot(dtype, best_isa())) matmul_with(*kernel, same, x, T, pool);
        else
            for (const MatmulOut& o : same) matmul_by_conversion(*o.W, x, T, o.y, pool);
    }
}

void matmul(const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool) {
    const MatmulOut out{&W, y};
    matmul(std::span(&out, 1), x, T, pool);
}

}  // namespace slm::kernels
