// Causal attention over packed sequences for training, forward and backward, FlashAttention-2
// style: no [T, T] matrix is ever held. A block of query tokens times the query heads of one kv
// head (G = H / Hkv of them) are the rows of small matrix products with a tile of keys, run by
// the single-threaded sgemm:
//   forward, per (query block, kv head):  S = scale Q Kᵀ, online softmax, O += P V
//   dq pass, per (query block, kv head):  S, P = exp(S - lse), dP = dO Vᵀ, dS = P (dP - D), dQ += scale dS K
//   dk/dv pass, per (key block, kv head): the same S, P, dS, then dV += Pᵀ dO, dK += scale dSᵀ Q
// Each chunk of the pool owns the rows it writes (query rows in the first two, key rows in the
// last), so nothing races and no atomics are needed; P is recomputed in both backward passes.
// Masking (own sequence, causal, window) is applied per row to each tile's scores; tiles no row
// of the block may see are skipped.
#include <slm/train_ops.h>

#include "kernels/cpu/fast_math.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace slm::kernels {
namespace {

constexpr int64_t kBlockRows = 64;  // query rows (tokens x grouped heads) per block
constexpr int64_t kKeys = 64;       // keys per tile

// The layout shared by the three passes: which keys each token sees, and how query blocks cut T.
struct Geometry {
    int64_t T, H, Hkv, Dh, G, block_tokens;
    std::vector<int64_t> lo;          // lo[t]: the first key token t sees (it sees lo[t]..t)
    std::vector<int64_t> suffix_min;  // min of lo[t..T): past it, no later query sees a key

    Geometry(int64_t T_, int64_t H_, int64_t Hkv_, int64_t Dh_, const int32_t* seg_begin, int window)
        : T(T_), H(H_), Hkv(Hkv_), Dh(Dh_), G(H_ / Hkv_), block_tokens(std::max<int64_t>(1, kBlockRows / (H_ / Hkv_))),
          lo(size_t(T_)), suffix_min(size_t(T_) + 1, T_) {
        for (int64_t t = 0; t < T; ++t)
            lo[size_t(t)] = window > 0 ? std::max<int64_t>(seg_begin[t], t - window + 1) : seg_begin[t];
        for (int64_t t = T - 1; t >= 0; --t) suffix_min[size_t(t)] = std::min(lo[size_t(t)], suffix_min[size_t(t) + 1]);
    }
    int64_t query_blocks() const { return (T + block_tokens - 1) / block_tokens; }
};

// Per-thread buffers, grown once and reused by every chunk the thread runs.
struct Buffers {
    std::vector<float> q, g, acc, s, dp, row_a, row_b, dk, dv;
};
Buffers& thread_buffers() {
    thread_local Buffers buffers;
    return buffers;
}
float* sized(std::vector<float>& v, int64_t n) {
    if (int64_t(v.size()) < n) v.resize(size_t(n));
    return v.data();
}

// rows (tokens t0.. x the G heads of kv head kvh) of x: [T, H, Dh] into dst: [rows, Dh], and back.
void gather_rows(const float* x, const Geometry& geo, int64_t t0, int64_t nt, int64_t kvh, float* dst) {
    for (int64_t i = 0; i < nt; ++i)
        std::copy_n(x + ((t0 + i) * geo.H + kvh * geo.G) * geo.Dh, geo.G * geo.Dh, dst + i * geo.G * geo.Dh);
}
void scatter_rows(const float* src, const Geometry& geo, int64_t t0, int64_t nt, int64_t kvh, float* x) {
    for (int64_t i = 0; i < nt; ++i)
        std::copy_n(src + i * geo.G * geo.Dh, geo.G * geo.Dh, x + ((t0 + i) * geo.H + kvh * geo.G) * geo.Dh);
}

// The keys [a, b] of the tile [j0, j0 + nk) that token t sees, as tile columns; a > b when none.
inline void visible(const Geometry& geo, int64_t t, int64_t j0, int64_t nk, int64_t& a, int64_t& b) {
    a = std::max(geo.lo[size_t(t)], j0) - j0;
    b = std::min(t, j0 + nk - 1) - j0;
}

// Whether any token of [t0, t1) sees a key of [j0, j1).
bool any_visible(const Geometry& geo, int64_t t0, int64_t t1, int64_t j0, int64_t j1) {
    for (int64_t t = std::max(t0, j0); t < t1; ++t)
        if (geo.lo[size_t(t)] < j1) return true;
    return false;
}

// s[i] = exp(s[i] - shift) for i in [a, b], 0 elsewhere in [0, n); returns the sum. a > b (a
// row that sees none of the tile) may put a past n or b below 0.
inline float exp_row(float* s, int64_t a, int64_t b, int64_t n, float shift) {
    if (a > b) {
        std::fill(s, s + n, 0.0f);
        return 0.0f;
    }
    float sum = 0;
    for (int64_t i = 0; i < a; ++i) s[i] = 0.0f;
    for (int64_t i = a; i <= b; ++i) sum += (s[i] = fast_exp(s[i] - shift));
    for (int64_t i = b + 1; i < n; ++i) s[i] = 0.0f;
    return sum;
}

template <typename Fn>
void run_chunks(ThreadPool* pool, int64_t chunks, Fn&& fn) {
    if (pool == nullptr || pool->size() == 1 || chunks <= 1) {
        for (int64_t c = 0; c < chunks; ++c) fn(c);
    } else {
        pool->for_each_chunk(chunks, fn);
    }
}

}  // namespace

void attention_train(const float* q, const float* k, const float* v, int64_t T, int64_t H, int64_t Hkv, int64_t Dh,
                     const int32_t* seg_begin, int window, float scale, float* out, float* lse, ThreadPool* pool) {
    if (T <= 0) return;
    const Geometry geo(T, H, Hkv, Dh, seg_begin, window);
    const int64_t kv_stride = Hkv * Dh;
    run_chunks(pool, geo.query_blocks() * Hkv, [&](int64_t chunk) {
        const int64_t kvh = chunk % Hkv, t0 = (chunk / Hkv) * geo.block_tokens;
        const int64_t t1 = std::min(T, t0 + geo.block_tokens), nt = t1 - t0, rows = nt * geo.G;
        Buffers& buf = thread_buffers();
        float* qb = sized(buf.q, rows * Dh);
        float* acc = sized(buf.acc, rows * Dh);
        float* s = sized(buf.s, rows * kKeys);
        float* m = sized(buf.row_a, rows);
        float* l = sized(buf.row_b, rows);
        gather_rows(q, geo, t0, nt, kvh, qb);
        std::fill(acc, acc + rows * Dh, 0.0f);
        std::fill(m, m + rows, -INFINITY);
        std::fill(l, l + rows, 0.0f);
        int64_t first = t1;
        for (int64_t t = t0; t < t1; ++t) first = std::min(first, geo.lo[size_t(t)]);
        for (int64_t j0 = first; j0 < t1; j0 += kKeys) {
            const int64_t nk = std::min(kKeys, t1 - j0);
            if (!any_visible(geo, t0, t1, j0, j0 + nk)) continue;
            sgemm(Trans::no, Trans::yes, rows, nk, Dh, scale, qb, Dh, k + (j0 * Hkv + kvh) * Dh, kv_stride, 0.0f, s,
                  kKeys, nullptr);
            for (int64_t r = 0; r < rows; ++r) {
                int64_t a, b;
                visible(geo, t0 + r / geo.G, j0, nk, a, b);
                float* sr = s + r * kKeys;
                if (a > b) {
                    std::fill(sr, sr + nk, 0.0f);
                    continue;
                }
                float tile_max = -INFINITY;
                for (int64_t i = a; i <= b; ++i) tile_max = std::max(tile_max, sr[i]);
                const float m_new = std::max(m[r], tile_max);
                const float rescale = fast_exp(m[r] - m_new);  // m = -inf on the first tile: 0
                l[r] = l[r] * rescale + exp_row(sr, a, b, nk, m_new);
                if (rescale != 1.0f)
                    for (int64_t d = 0; d < Dh; ++d) acc[r * Dh + d] *= rescale;
                m[r] = m_new;
            }
            sgemm(Trans::no, Trans::no, rows, Dh, nk, 1.0f, s, kKeys, v + (j0 * Hkv + kvh) * Dh, kv_stride, 1.0f, acc,
                  Dh, nullptr);
        }
        for (int64_t r = 0; r < rows; ++r) {
            const float inv = 1.0f / l[r];
            for (int64_t d = 0; d < Dh; ++d) acc[r * Dh + d] *= inv;
            const int64_t t = t0 + r / geo.G, h = kvh * geo.G + r % geo.G;
            lse[t * H + h] = m[r] + std::log(l[r]);
        }
        scatter_rows(acc, geo, t0, nt, kvh, out);
    });
}

namespace {

// One (query tile x key tile) step of the backward: s = scale Q Kᵀ becomes P (masked, from lse),
// dp = dO Vᵀ becomes dS = P (dP - D). rows: the tile's query rows (tokens t0.. x G heads).
void probabilities_and_scores_grad(const Geometry& geo, const float* qb, const float* gb, const float* lse_rows,
                                   const float* d_rows, const float* kj, const float* vj, int64_t t0, int64_t rows,
                                   int64_t j0, int64_t nk, float scale, float* s, float* dp) {
    const int64_t kv_stride = geo.Hkv * geo.Dh;
    sgemm(Trans::no, Trans::yes, rows, nk, geo.Dh, scale, qb, geo.Dh, kj, kv_stride, 0.0f, s, kKeys, nullptr);
    sgemm(Trans::no, Trans::yes, rows, nk, geo.Dh, 1.0f, gb, geo.Dh, vj, kv_stride, 0.0f, dp, kKeys, nullptr);
    for (int64_t r = 0; r < rows; ++r) {
        int64_t a, b;
        visible(geo, t0 + r / geo.G, j0, nk, a, b);
        float* sr = s + r * kKeys;
        float* dpr = dp + r * kKeys;
        exp_row(sr, a, b, nk, lse_rows[r]);
        for (int64_t i = 0; i < nk; ++i) dpr[i] = sr[i] * (dpr[i] - d_rows[r]);
    }
}

}  // namespace

void attention_train_backward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                              const float* dout, int64_t T, int64_t H, int64_t Hkv, int64_t Dh,
                              const int32_t* seg_begin, int window, float scale, float* dq, float* dk, float* dv,
                              ThreadPool* pool) {
    if (T <= 0) return;
    const Geometry geo(T, H, Hkv, Dh, seg_begin, window);
    // D[t, h] = dout . out, the softmax's correction term, once for both passes.
    std::vector<float> D(static_cast<size_t>(T * H));
    run_chunks(pool, (T + 63) / 64, [&](int64_t c) {
        for (int64_t i = c * 64 * H; i < std::min(T, (c + 1) * 64) * H; ++i) D[size_t(i)] = dot_f32(dout + i * Dh, out + i * Dh, Dh);
    });
    // The per-row lse and D of tokens t0.. x the heads of kvh, in the row order of gather_rows.
    auto row_values = [&](const float* x, int64_t t0, int64_t nt, int64_t kvh, float* dst) {
        for (int64_t i = 0; i < nt; ++i) std::copy_n(x + (t0 + i) * H + kvh * geo.G, geo.G, dst + i * geo.G);
    };

    // dq, per (query block, kv head).
    run_chunks(pool, geo.query_blocks() * Hkv, [&](int64_t chunk) {
        const int64_t kvh = chunk % Hkv, t0 = (chunk / Hkv) * geo.block_tokens;
        const int64_t t1 = std::min(T, t0 + geo.block_tokens), nt = t1 - t0, rows = nt * geo.G;
        Buffers& buf = thread_buffers();
        float* qb = sized(buf.q, rows * Dh);
        float* gb = sized(buf.g, rows * Dh);
        float* dqb = sized(buf.acc, rows * Dh);
        float* s = sized(buf.s, rows * kKeys);
        float* dp = sized(buf.dp, rows * kKeys);
        float* lse_rows = sized(buf.row_a, rows);
        float* d_rows = sized(buf.row_b, rows);
        gather_rows(q, geo, t0, nt, kvh, qb);
        gather_rows(dout, geo, t0, nt, kvh, gb);
        row_values(lse, t0, nt, kvh, lse_rows);
        row_values(D.data(), t0, nt, kvh, d_rows);
        std::fill(dqb, dqb + rows * Dh, 0.0f);
        int64_t first = t1;
        for (int64_t t = t0; t < t1; ++t) first = std::min(first, geo.lo[size_t(t)]);
        for (int64_t j0 = first; j0 < t1; j0 += kKeys) {
            const int64_t nk = std::min(kKeys, t1 - j0);
            if (!any_visible(geo, t0, t1, j0, j0 + nk)) continue;
            const float* kj = k + (j0 * Hkv + kvh) * Dh;
            probabilities_and_scores_grad(geo, qb, gb, lse_rows, d_rows, kj, v + (j0 * Hkv + kvh) * Dh, t0, rows, j0, nk,
                                          scale, s, dp);
            sgemm(Trans::no, Trans::no, rows, Dh, nk, scale, dp, kKeys, kj, Hkv * Dh, 1.0f, dqb, Dh, nullptr);
        }
        scatter_rows(dqb, geo, t0, nt, kvh, dq);
    });

    // dk and dv, per (key block, kv head): every query tile from the block's first key on, until
    // no later token sees the block.
    const int64_t key_blocks = (T + kKeys - 1) / kKeys;
    run_chunks(pool, key_blocks * Hkv, [&](int64_t chunk) {
        const int64_t kvh = chunk % Hkv, j0 = (chunk / Hkv) * kKeys;
        const int64_t j1 = std::min(T, j0 + kKeys), nk = j1 - j0;
        const int64_t max_rows = geo.block_tokens * geo.G;
        Buffers& buf = thread_buffers();
        float* qb = sized(buf.q, max_rows * Dh);
        float* gb = sized(buf.g, max_rows * Dh);
        float* s = sized(buf.s, max_rows * kKeys);
        float* dp = sized(buf.dp, max_rows * kKeys);
        float* lse_rows = sized(buf.row_a, max_rows);
        float* d_rows = sized(buf.row_b, max_rows);
        float* dkb = sized(buf.dk, nk * Dh);
        float* dvb = sized(buf.dv, nk * Dh);
        std::fill(dkb, dkb + nk * Dh, 0.0f);
        std::fill(dvb, dvb + nk * Dh, 0.0f);
        const float* kj = k + (j0 * Hkv + kvh) * Dh;
        const float* vj = v + (j0 * Hkv + kvh) * Dh;
        for (int64_t t0 = j0; t0 < T && geo.suffix_min[size_t(t0)] < j1; t0 += geo.block_tokens) {
            const int64_t t1 = std::min(T, t0 + geo.block_tokens), nt = t1 - t0, rows = nt * geo.G;
            if (!any_visible(geo, t0, t1, j0, j1)) continue;
            gather_rows(q, geo, t0, nt, kvh, qb);
            gather_rows(dout, geo, t0, nt, kvh, gb);
            row_values(lse, t0, nt, kvh, lse_rows);
            row_values(D.data(), t0, nt, kvh, d_rows);
            probabilities_and_scores_grad(geo, qb, gb, lse_rows, d_rows, kj, vj, t0, rows, j0, nk, scale, s, dp);
            sgemm(Trans::yes, Trans::no, nk, Dh, rows, 1.0f, s, kKeys, gb, Dh, 1.0f, dvb, Dh, nullptr);
            sgemm(Trans::yes, Trans::no, nk, Dh, rows, scale, dp, kKeys, qb, Dh, 1.0f, dkb, Dh, nullptr);
        }
        for (int64_t j = 0; j < nk; ++j) {
            std::copy_n(dkb + j * Dh, Dh, dk + ((j0 + j) * Hkv + kvh) * Dh);
            std::copy_n(dvb + j * Dh, Dh, dv + ((j0 + j) * Hkv + kvh) * Dh);
        }
    });
}

}  // namespace slm::kernels
