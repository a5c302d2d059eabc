// Products through a frozen weight W [N, K] of any dtype and layout with f32 activations, as
// training needs them: the forward y[T, N] = x[T, K] · Wᵀ (frozen_matmul) and the input gradient
// dx[T, K] = dy[T, N] · W (matmul_backward_input). W is never converted whole: each job is cut
// into chunks that own a block of the output (no two threads write one element), and each chunk
// converts a tile of W (kRowsPerTile rows x a range of whole blocks of columns) to f32 in its own
// scratch (32-128 KiB, in L2), then multiplies it in with the single-threaded sgemm. Column
// ranges start on block boundaries so that a row piece converts alone (interleaved8 rows are
// taken out of their group one piece at a time). f32 weights in the row layout need no
// conversion: one pooled sgemm reads them in place. Unlike kernels::matmul (decode-shaped, with
// 8-bit activations for quantized weights), the activations stay f32, as PyTorch's (and
// bitsandbytes' dequantize-then-matmul) are; and the T x N x K work runs as a real GEMM.
#include <slm/error.h>
#include <slm/train_ops.h>

#include "kernels/cpu/interleaved_rows.h"
#include "kernels/cpu/scratch.h"

#include <algorithm>

namespace slm::kernels {
namespace {

constexpr int64_t kRowsPerTile = 128;  // rows of W per converted tile
constexpr int64_t kMinColumns = 64;    // columns of W per chunk (rounded to whole blocks)
constexpr int64_t kMaxColumns = 256;
constexpr int64_t kMinTokens = 256;    // tokens per chunk, at least, when T is split (each converts W again)

// Converts rows [n0, n0 + rows) x blocks [first_block, first_block + blocks) of W to f32 at
// `tile` ([rows, blocks * block_size]); `piece` is scratch for one interleaved row piece.
void convert_tile(const Tensor& W, const DTypeTraits& type, int64_t n0, int64_t rows, int64_t first_block,
                  int64_t blocks, float* tile, uint8_t* piece) {
    const int64_t kc = blocks * type.block_size;
    for (int64_t n = n0; n < n0 + rows; ++n) {
        const void* src;
        if (W.layout != Layout::rows) {
            interleaved_row_blocks(W, n, first_block, blocks, piece);
            src = piece;
        } else {
            src = static_cast<const uint8_t*>(W.row(n)) + size_t(first_block) * size_t(type.block_bytes);
        }
        type.to_float(src, tile + (n - n0) * kc, kc);
    }
}

const DTypeTraits& convertible(const Tensor& W, const char* op) {
    const DTypeTraits& type = traits(W.dtype);
    if (type.to_float == nullptr) fail("kernels::{}: no conversion to f32 for dtype {}", op, type.name);
    return type;
}

// Token ranges for a job of `ranges` output blocks: enough to give each thread a few chunks, but
// each range converts W again, so never ranges of fewer than kMinTokens tokens.
int64_t token_ranges_for(int64_t ranges, int64_t T, ThreadPool* pool) {
    const int64_t want = pool == nullptr ? 1 : 4 * int64_t(pool->size());
    return std::clamp<int64_t>((want + ranges - 1) / ranges, 1, std::max<int64_t>(1, T / kMinTokens));
}

template <typename Chunk>
void run_chunks(int64_t chunks, ThreadPool* pool, Chunk&& run_chunk) {
    if (pool == nullptr || pool->size() == 1 || chunks == 1) {
        for (int64_t c = 0; c < chunks; ++c) run_chunk(c);
    } else {
        pool->for_each_chunk(chunks, run_chunk);
    }
}

}  // namespace

void frozen_matmul(const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool) {
    const int64_t N = W.rows(), K = W.row_length();
    if (T <= 0 || N <= 0) return;
    if (W.dtype == DType::f32 && W.layout == Layout::rows) {
        sgemm(Trans::no, Trans::yes, T, N, K, 1.0f, x, K, W.as<const float>(), K, 0.0f, y, N, pool);
        return;
    }
    const DTypeTraits& type = convertible(W, "frozen_matmul");
    const int64_t block = type.block_size;
    // A chunk owns rows [n0, n0 + kRowsPerTile) of W (columns of y) for a range of tokens and
    // walks K in tiles of up to kMaxColumns: each W element is converted once per token range.
    const int64_t columns = std::max<int64_t>(1, kMaxColumns / block) * block;
    const int64_t row_ranges = (N + kRowsPerTile - 1) / kRowsPerTile;
    const int64_t token_ranges = token_ranges_for(row_ranges, T, pool);
    const bool interleaved = W.layout != Layout::rows;
    auto run_chunk = [&](int64_t chunk) {
        const int64_t tr = chunk / row_ranges, rr = chunk % row_ranges;
        const int64_t t0 = T * tr / token_ranges, t1 = T * (tr + 1) / token_ranges;
        const int64_t n0 = rr * kRowsPerTile, rows = std::min(kRowsPerTile, N - n0);
        auto* tile = static_cast<float*>(scratch(size_t(kRowsPerTile * columns) * sizeof(float), 0));
        auto* piece = interleaved ? static_cast<uint8_t*>(scratch(size_t(columns / block * type.block_bytes), 1)) : nullptr;
        for (int64_t k0 = 0; k0 < K; k0 += columns) {
            const int64_t kc = std::min(columns, K - k0);
            convert_tile(W, type, n0, rows, k0 / block, kc / block, tile, piece);
            sgemm(Trans::no, Trans::yes, t1 - t0, rows, kc, 1.0f, x + t0 * K + k0, K, tile, kc, k0 == 0 ? 0.0f : 1.0f,
                  y + t0 * N + n0, N, nullptr);
        }
        if (K == 0)
            for (int64_t t = t0; t < t1; ++t) std::fill(y + t * N + n0, y + t * N + n0 + rows, 0.0f);
    };
    run_chunks(token_ranges * row_ranges, pool, run_chunk);
}

void matmul_backward_input(const Tensor& W, const float* dy, int64_t T, float* dx, bool accumulate, ThreadPool* pool) {
    const int64_t N = W.rows(), K = W.row_length();
    if (T <= 0 || K <= 0) return;
    if (W.dtype == DType::f32 && W.layout == Layout::rows) {
        sgemm(Trans::no, Trans::no, T, K, N, 1.0f, dy, N, W.as<const float>(), K, accumulate ? 1.0f : 0.0f, dx, K, pool);
        return;
    }
    const DTypeTraits& type = convertible(W, "matmul_backward_input");
    const int64_t block = type.block_size;
    const int64_t want = pool == nullptr ? 1 : 4 * int64_t(pool->size());  // chunks: a few per thread
    // Column ranges of whole blocks, from kMinColumns to kMaxColumns wide: narrower ones first,
    // when that gives each thread a few chunks, since they cost only more reads of dy.
    const int64_t narrowest = std::max<int64_t>(1, kMinColumns / block) * block;
    const int64_t widest = std::max<int64_t>(1, kMaxColumns / block) * block;
    const int64_t columns = std::min(K, std::clamp(K / want / block * block, narrowest, std::max(narrowest, widest)));
    const int64_t column_ranges = (K + columns - 1) / columns;
    // Split the tokens too when there are still too few chunks.
    const int64_t token_ranges = token_ranges_for(column_ranges, T, pool);
    const bool interleaved = W.layout != Layout::rows;

    auto run_chunk = [&](int64_t chunk) {
        const int64_t tr = chunk / column_ranges, cr = chunk % column_ranges;
        const int64_t t0 = T * tr / token_ranges, t1 = T * (tr + 1) / token_ranges;
        const int64_t k0 = cr * columns, kc = std::min(columns, K - k0);
        const int64_t first_block = k0 / block, blocks = kc / block;
        const size_t piece_bytes = size_t(blocks) * size_t(type.block_bytes);
        auto* tile = static_cast<float*>(scratch(size_t(kRowsPerTile * kc) * sizeof(float), 0));
        auto* piece = interleaved ? static_cast<uint8_t*>(scratch(piece_bytes, 1)) : nullptr;
        for (int64_t n0 = 0; n0 < N; n0 += kRowsPerTile) {
            const int64_t rows = std::min(kRowsPerTile, N - n0);
            convert_tile(W, type, n0, rows, first_block, blocks, tile, piece);
            const float beta = n0 == 0 && !accumulate ? 0.0f : 1.0f;
            sgemm(Trans::no, Trans::no, t1 - t0, kc, rows, 1.0f, dy + t0 * N + n0, N, tile, kc, beta, dx + t0 * K + k0,
                  K, nullptr);
        }
        if (N == 0 && !accumulate)
            for (int64_t t = t0; t < t1; ++t) std::fill(dx + t * K + k0, dx + t * K + k0 + kc, 0.0f);
    };
    run_chunks(token_ranges * column_ranges, pool, run_chunk);
}

}  // namespace slm::kernels
