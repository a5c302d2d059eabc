// Fast causal attention over an f32/f16 KV cache, flash-attention style: the cache is walked in
// tiles of kKeyTile positions converted once to f32, and each tile serves a block of up to
// kQueryBlock query tokens times all query heads sharing the kv head (GQA), the block's "slots".
// Scores and the value sums are small matrix products over all slots at once (attention_tile.h),
// where one query head at a time streamed the whole tile per head. Softmax is computed online
// (running max and sum per slot), so memory stays O(tile) for any context length. Soft-capped
// scores (Gemma 2) are capped in the tile before its exponentials.
#include <slm/error.h>
#include <slm/kernels.h>

#include "kernels/cpu/attention_tile.h"
#include "kernels/cpu/convert.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/scratch.h"

#include <algorithm>
#include <cmath>

namespace slm::kernels {
namespace {

constexpr int64_t kKeyTile = 64;
constexpr int64_t kQueryBlock = 16;

struct SlotState {
    float max_score;
    float denom;
};

void product_portable(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t rows,
                      int64_t K, int64_t W, bool accumulate) {
    for (int64_t r = 0; r < rows; ++r) {
        float* cr = c + r * ldc;
        if (!accumulate) std::fill(cr, cr + W, 0.0f);
        for (int64_t k = 0; k < K; ++k)
            for (int64_t i = 0; i < W; ++i) cr[i] += a[r * lda + k] * b[k * ldb + i];
    }
}

void transpose_portable(const float* rows, int64_t n, int64_t D, float* t, int64_t ldt) {
    const int64_t padded = (n + 7) / 8 * 8;
    for (int64_t d = 0; d < D; ++d) {
        for (int64_t j = 0; j < n; ++j) t[d * ldt + j] = rows[j * D + d];
        for (int64_t j = n; j < padded; ++j) t[d * ldt + j] = 0.0f;
    }
}

float exponentiate_portable(float* s, int64_t lo, int64_t hi, int64_t n, float* running_max) {
    float m = *running_max;
    for (int64_t j = lo; j <= hi; ++j) m = std::max(m, s[j]);
    float sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += (s[j] = j >= lo && j <= hi ? fast_exp(s[j] - m) : 0.0f);
    *running_max = m;
    return sum;
}

const AttentionTileOps kPortableOps{product_portable, transpose_portable, exponentiate_portable};

}  // namespace

const AttentionTileOps& attention_tile_ops_portable() { return kPortableOps; }

void attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
               const void* v_cache, DType cache_dtype, int64_t S, const int32_t* q_pos, int window,
               float scale, float* out, ThreadPool* pool, float softcap) {
    if (cache_dtype != DType::f32 && cache_dtype != DType::f16)
        fail("kernels::attention: KV cache dtype {} is not f32 or f16", name(cache_dtype));
    if (Hkv <= 0 || H % Hkv != 0) fail("kernels::attention: {} query heads do not group over {} kv heads", H, Hkv);
    const int64_t group = H / Hkv;
    const AttentionTileOps& ops = attention_tile_ops(best_isa());
    const size_t elem = cache_dtype == DType::f32 ? 4 : 2;
    const auto* k_bytes = static_cast<const uint8_t*>(k_cache);
    const auto* v_bytes = static_cast<const uint8_t*>(v_cache);
    const int64_t query_blocks = (T + kQueryBlock - 1) / kQueryBlock;
    const float inv_softcap = softcap > 0 ? 1.0f / softcap : 0.0f;

    auto visible_first = [&](int64_t t) { return window > 0 ? std::max<int64_t>(0, int64_t(q_pos[t]) - window + 1) : 0; };
    auto visible_last = [&](int64_t t) { return std::min<int64_t>(q_pos[t], S - 1); };

    auto run_items = [&](int64_t item_begin, int64_t item_end) {
        const int64_t max_slots = kQueryBlock * group;
        const size_t floats = size_t(3 * kKeyTile * Dh + 2 * max_slots * Dh + max_slots * kKeyTile);
        auto* base = static_cast<float*>(scratch(floats * sizeof(float) + size_t(max_slots) * sizeof(SlotState), 1));
        float* k_rows = base;                  // kKeyTile x Dh, as in the cache
        float* k_t = k_rows + kKeyTile * Dh;   // Dh x kKeyTile
        float* v_tile = k_t + kKeyTile * Dh;   // kKeyTile x Dh
        float* queries = v_tile + kKeyTile * Dh;  // slots x Dh, times scale
        float* acc = queries + max_slots * Dh;    // slots x Dh
        float* p = acc + max_slots * Dh;          // slots x kKeyTile: scores, then probabilities
        auto* state = reinterpret_cast<SlotState*>(p + max_slots * kKeyTile);

        for (int64_t item = item_begin; item < item_end; ++item) {
            const int64_t kvh = item % Hkv, t0 = (item / Hkv) * kQueryBlock;
            const int64_t t1 = std::min(T, t0 + kQueryBlock), slots = (t1 - t0) * group;
            int64_t first = S, last = -1;
            for (int64_t t = t0; t < t1; ++t) first = std::min(first, visible_first(t)), last = std::max(last, visible_last(t));
            // Slot (t - t0) * group + g is query head kvh * group + g of token t: one run of
            // group heads per token.
            for (int64_t t = t0; t < t1; ++t) {
                const float* qt = q + (t * H + kvh * group) * Dh;
                float* dst = queries + (t - t0) * group * Dh;
                for (int64_t i = 0; i < group * Dh; ++i) dst[i] = qt[i] * scale;
            }
            std::fill(acc, acc + slots * Dh, 0.0f);
            for (int64_t i = 0; i < slots; ++i) state[i] = {-INFINITY, 0.0f};

            for (int64_t j0 = first; j0 <= last; j0 += kKeyTile) {
                const int64_t n = std::min(kKeyTile, last - j0 + 1);
                for (int64_t j = 0; j < n; ++j) {
                    const size_t offset = size_t(((j0 + j) * Hkv + kvh) * Dh) * elem;
                    cache_row_to_f32(cache_dtype, k_bytes + offset, k_rows + j * Dh, Dh);
                    cache_row_to_f32(cache_dtype, v_bytes + offset, v_tile + j * Dh, Dh);
                }
                ops.transpose(k_rows, n, Dh, k_t, kKeyTile);
                ops.product(p, kKeyTile, queries, Dh, k_t, kKeyTile, slots, Dh, (n + 7) / 8 * 8, false);
                for (int64_t slot = 0; slot < slots; ++slot) {
                    const int64_t t = t0 + slot / group;
                    const int64_t lo = std::max(j0, visible_first(t)) - j0, hi = std::min(j0 + n - 1, visible_last(t)) - j0;
                    float* p_row = p + slot * kKeyTile;
                    if (lo > hi) {  // no key of this tile is visible to the slot: it adds nothing
                        std::fill(p_row, p_row + n, 0.0f);
                        continue;
                    }
                    if (softcap > 0)  // Gemma 2: scores pass through softcap * tanh(score / softcap)
                        for (int64_t j = lo; j <= hi; ++j) p_row[j] = softcap * fast_tanh(p_row[j] * inv_softcap);
                    SlotState& st = state[slot];
                    const float old_max = st.max_score;
                    const float tile_sum = ops.exponentiate(p_row, lo, hi, n, &st.max_score);
                    // Sums so far were taken against the old maximum; the first tile has none.
                    const float correction = old_max == -INFINITY ? 0.0f : fast_exp(old_max - st.max_score);
                    if (correction != 1.0f) {
                        float* acc_row = acc + slot * Dh;
                        for (int64_t i = 0; i < Dh; ++i) acc_row[i] *= correction;
                    }
                    st.denom = st.denom * correction + tile_sum;
                }
                ops.product(acc, Dh, p, kKeyTile, v_tile, Dh, slots, n, Dh, true);
            }
            for (int64_t slot = 0; slot < slots; ++slot) {
                const int64_t t = t0 + slot / group, g = slot % group;
                float* o = out + (t * H + kvh * group + g) * Dh;
                const float inv = state[slot].denom > 0 ? 1.0f / state[slot].denom : 0.0f;
                for (int64_t i = 0; i < Dh; ++i) o[i] = acc[slot * Dh + i] * inv;
            }
        }
    };
    // Items in reverse, one at a time from a shared counter: the last query blocks see the most
    // keys (causal), so starting with them and balancing dynamically keeps both threads busy to
    // the end, where a fixed half each gave one thread three quarters of a prompt's work.
    const int64_t items = query_blocks * Hkv;
    parallel_chunks(pool, items, 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) run_items(items - 1 - i, items - i);
    });
}

}  // namespace slm::kernels
