// The f32 GEMM: C = alpha op(A) op(B) + beta C, blocked as Goto and BLIS do. For each block of
// kKC steps of K (and kNC columns), B is packed once into 16-column panels (shared, packed in
// parallel), then the tiles of C (kMC rows x some panels) are spread over the pool; each tile
// runs the 6 x 16 microkernel over its strips, with a B panel (16 KiB) in L1 and the tile's A
// rows (kMC x kKC, 96 KiB) in L2. A is read in place when stored [M, K] (each strip is six rows
// the prefetchers follow) and packed into strips per tile when stored [K, M]. A product of at
// most kMC rows (LoRA's rank-sized ones) has a single row tile, where no B panel is read twice:
// there each tile packs its own panels and runs all of K in one job. The portable pieces below
// are plain loops the compiler vectorizes; sgemm_avx2.cpp has the AVX2 ones.
#include <slm/train_ops.h>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/sgemm.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace slm::kernels {
namespace {

constexpr int64_t kKC = 256;   // K steps per block: a B panel of 256 x 16 floats is 16 KiB (L1)
constexpr int64_t kMC = 96;    // rows of a tile: its A block of 96 x 256 floats is 96 KiB (L2)
constexpr int64_t kNC = 4096;  // columns per packed B block (4 MiB at most)

// A thread's growing 64-byte aligned float buffer; sgemm keeps its own (not kernels::scratch)
// so that callers that hold scratch buffers can call it inside their pool chunks.
float* sgemm_buffer(size_t floats, int slot) {
    struct Arena {
        std::unique_ptr<float[], void (*)(float*)> data{nullptr, [](float* p) { ::operator delete[](p, std::align_val_t(64)); }};
        size_t size = 0;
    };
    thread_local Arena arenas[2];
    Arena& arena = arenas[slot];
    if (arena.size < floats) {
        arena.data.reset(static_cast<float*>(::operator new[](floats * sizeof(float), std::align_val_t(64))));
        arena.size = floats;
    }
    return arena.data.get();
}

template <bool kPacked>
void micro_portable(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc, int mr, int nr,
                    float alpha, float beta) {
    float acc[kSgemmMR][kSgemmNR] = {};
    for (int64_t k = 0; k < kc; ++k) {
        const float* bk = b + k * kSgemmNR;
        for (int r = 0; r < kSgemmMR; ++r) {
            const float ar = kPacked ? a[k * kSgemmMR + r] : a[std::min(r, mr - 1) * lda + k];
            for (int i = 0; i < kSgemmNR; ++i) acc[r][i] += ar * bk[i];
        }
    }
    for (int r = 0; r < mr; ++r)
        for (int i = 0; i < nr; ++i) {
            float& out = c[r * ldc + i];
            out = beta == 0.0f ? alpha * acc[r][i] : alpha * acc[r][i] + beta * out;
        }
}

void packed_portable(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr, float alpha,
                     float beta) {
    micro_portable<true>(kc, a, 0, b, c, ldc, mr, nr, alpha, beta);
}

void pack_b_portable(const float* b, int64_t ldb, bool trans, int64_t kc, int nr, float* dst) {
    if (!trans) {
        for (int64_t k = 0; k < kc; ++k) {
            float* d = dst + k * kSgemmNR;
            std::memcpy(d, b + k * ldb, size_t(nr) * sizeof(float));
            std::fill(d + nr, d + kSgemmNR, 0.0f);
        }
        return;
    }
    for (int i = 0; i < nr; ++i)
        for (int64_t k = 0; k < kc; ++k) dst[k * kSgemmNR + i] = b[i * ldb + k];
    for (int i = nr; i < kSgemmNR; ++i)
        for (int64_t k = 0; k < kc; ++k) dst[k * kSgemmNR + i] = 0.0f;
}

// Strip [i0, i0 + mr) x [k0, k0 + kc) of op(A) for A stored [K, M], as a[k * kSgemmMR + r].
void pack_a_strip(const float* A, int64_t lda, int64_t i0, int64_t k0, int64_t kc, int mr, float* dst) {
    for (int64_t k = 0; k < kc; ++k) {
        const float* src = A + (k0 + k) * lda + i0;
        float* d = dst + k * kSgemmMR;
        for (int r = 0; r < mr; ++r) d[r] = src[r];
        for (int r = mr; r < kSgemmMR; ++r) d[r] = 0.0f;
    }
}

// C = beta C over M x N (beta 0 writes zeros whatever C held): the whole product when K or
// alpha is 0.
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i) {
        float* row = C + i * ldc;
        if (beta == 0.0f) std::fill(row, row + N, 0.0f);
        else if (beta != 1.0f)
            for (int64_t j = 0; j < N; ++j) row[j] *= beta;
    }
}

}  // namespace

const SgemmOps& sgemm_ops_portable() {
    static const SgemmOps ops{packed_portable, micro_portable<false>, pack_b_portable};
    return ops;
}

void sgemm_with(const SgemmOps& ops, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool* pool) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    const bool a_trans = ta == Trans::yes, b_trans = tb == Trans::yes;
    const int threads = pool == nullptr ? 1 : pool->size();
    const int64_t want = threads == 1 ? 1 : 4 * int64_t(threads);  // tiles: a few per thread balance the load
    if (M <= kMC) {
        // One row tile (LoRA's rank-sized products, dA = dHᵀ X): no B panel is used twice, so each
        // tile packs its own panels and runs all of K in one job, rather than one job per K block.
        const int64_t panels = (N + kSgemmNR - 1) / kSgemmNR, tiles = std::min(panels, want);
        auto run_tile = [&](int64_t tile) {
            const int64_t p_begin = panels * tile / tiles, p_end = panels * (tile + 1) / tiles;
            for (int64_t k0 = 0; k0 < K; k0 += kKC) {
                const int64_t kc = std::min(kKC, K - k0);
                const float beta_k = k0 == 0 ? beta : 1.0f;
                float* bpack = sgemm_buffer(size_t(kc * kSgemmNR), 0);
                float* apack = a_trans ? sgemm_buffer(size_t(kMC * kc), 1) : nullptr;
                if (a_trans)
                    for (int64_t i = 0; i < M; i += kSgemmMR)
                        pack_a_strip(A, lda, i, k0, kc, int(std::min<int64_t>(kSgemmMR, M - i)), apack + i * kc);
                for (int64_t p = p_begin; p < p_end; ++p) {
                    const int64_t j = p * kSgemmNR;
                    const int nr = int(std::min<int64_t>(kSgemmNR, N - j));
                    ops.pack_b(b_trans ? B + j * ldb + k0 : B + k0 * ldb + j, ldb, b_trans, kc, nr, bpack);
                    for (int64_t i = 0; i < M; i += kSgemmMR) {
                        const int mr = int(std::min<int64_t>(kSgemmMR, M - i));
                        float* c = C + i * ldc + j;
                        if (a_trans) ops.packed(kc, apack + i * kc, bpack, c, ldc, mr, nr, alpha, beta_k);
                        else ops.rows(kc, A + i * lda + k0, lda, bpack, c, ldc, mr, nr, alpha, beta_k);
                    }
                }
            }
        };
        if (pool == nullptr || threads == 1 || tiles == 1) {
            for (int64_t t = 0; t < tiles; ++t) run_tile(t);
        } else {
            pool->for_each_chunk(tiles, run_tile);
        }
        return;
    }
    for (int64_t j0 = 0; j0 < N; j0 += kNC) {
        const int64_t nc = std::min(kNC, N - j0);
        const int64_t panels = (nc + kSgemmNR - 1) / kSgemmNR;
        // Tiles: kMC rows by a group of panels; more groups when there are too few row tiles to
        // give every thread a few (a skinny M, such as LoRA's rank-sized products).
        const int64_t row_tiles = (M + kMC - 1) / kMC;
        const int64_t col_tiles = std::min(panels, std::max<int64_t>(1, (want + row_tiles - 1) / row_tiles));
        for (int64_t k0 = 0; k0 < K; k0 += kKC) {
            const int64_t kc = std::min(kKC, K - k0);
            const float beta_k = k0 == 0 ? beta : 1.0f;
            float* bpack = sgemm_buffer(size_t(panels * kc * kSgemmNR), 0);
            parallel_chunks(pool, panels, std::max<int64_t>(1, 4096 / kc), [&](int64_t p0, int64_t p1) {
                for (int64_t p = p0; p < p1; ++p) {
                    const int64_t j = j0 + p * kSgemmNR;
                    const int nr = int(std::min<int64_t>(kSgemmNR, N - j));
                    const float* src = b_trans ? B + j * ldb + k0 : B + k0 * ldb + j;
                    ops.pack_b(src, ldb, b_trans, kc, nr, bpack + p * kc * kSgemmNR);
                }
            });
            auto run_tile = [&](int64_t tile) {
                const int64_t rt = tile / col_tiles, ct = tile % col_tiles;
                const int64_t i_begin = rt * kMC, i_end = std::min(M, i_begin + kMC);
                const int64_t p_begin = panels * ct / col_tiles, p_end = panels * (ct + 1) / col_tiles;
                float* apack = nullptr;
                if (a_trans) {
                    apack = sgemm_buffer(size_t(kMC * kc), 1);
                    for (int64_t i = i_begin; i < i_end; i += kSgemmMR)
                        pack_a_strip(A, lda, i, k0, kc, int(std::min<int64_t>(kSgemmMR, i_end - i)),
                                     apack + (i - i_begin) * kc);
                }
                for (int64_t p = p_begin; p < p_end; ++p) {
                    const int64_t j = j0 + p * kSgemmNR;
                    const int nr = int(std::min<int64_t>(kSgemmNR, N - j));
                    const float* bp = bpack + p * kc * kSgemmNR;
                    for (int64_t i = i_begin; i < i_end; i += kSgemmMR) {
                        const int mr = int(std::min<int64_t>(kSgemmMR, i_end - i));
                        float* c = C + i * ldc + j;
                        if (a_trans) ops.packed(kc, apack + (i - i_begin) * kc, bp, c, ldc, mr, nr, alpha, beta_k);
                        else ops.rows(kc, A + i * lda + k0, lda, bp, c, ldc, mr, nr, alpha, beta_k);
                    }
                }
            };
            const int64_t tiles = row_tiles * col_tiles;
            if (pool == nullptr || threads == 1 || tiles == 1) {
                for (int64_t t = 0; t < tiles; ++t) run_tile(t);
            } else {
                pool->for_each_chunk(tiles, run_tile);
            }
        }
    }
}

void sgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool* pool) {
    static const SgemmOps& ops = sgemm_ops(best_isa());
    sgemm_with(ops, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, pool);
}

}  // namespace slm::kernels
