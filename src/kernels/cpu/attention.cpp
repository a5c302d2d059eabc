// Fast causal attention over an f32/f16 KV cache, flash-attention style: the cache is walked in
// tiles of kKeyTile positions converted once to f32, and each tile serves a block of up to
// kQueryBlock query tokens times all query heads sharing the kv head (GQA). Softmax is computed
// online (running max and sum per query head), so memory stays O(tile) for any context length.
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

struct QueryHeadState {
    float max_score;
    float denom;
};

void scores_portable(const float* q, const float* k_tile, int64_t lo, int64_t hi, int64_t Dh, float scale, float* scores) {
    for (int64_t j = lo; j <= hi; ++j) scores[j] = dot_f32(q, k_tile + j * Dh, Dh) * scale;
}

void accumulate_portable(float* acc, float correction, const float* p, const float* v_tile, int64_t lo, int64_t hi, int64_t Dh) {
    for (int64_t i = 0; i < Dh; ++i) acc[i] *= correction;
    for (int64_t j = lo; j <= hi; ++j) scale_axpy(acc, 1.0f, p[j], v_tile + j * Dh, Dh);
}

const AttentionTileOps kPortableOps{scores_portable, accumulate_portable};

}  // namespace

const AttentionTileOps& attention_tile_ops_portable() { return kPortableOps; }

void attention(const float* q, int64_t T, int64_t H, int64_t Hkv, int64_t Dh, const void* k_cache,
               const void* v_cache, DType cache_dtype, int64_t S, const int32_t* q_pos, int window,
               float scale, float* out, ThreadPool* pool) {
    if (cache_dtype != DType::f32 && cache_dtype != DType::f16)
        fail("kernels::attention: KV cache dtype {} is not f32 or f16", name(cache_dtype));
    if (Hkv <= 0 || H % Hkv != 0) fail("kernels::attention: {} query heads do not group over {} kv heads", H, Hkv);
    const int64_t group = H / Hkv;
    const AttentionTileOps& ops = attention_tile_ops(best_isa());
    const size_t elem = cache_dtype == DType::f32 ? 4 : 2;
    const auto* k_bytes = static_cast<const uint8_t*>(k_cache);
    const auto* v_bytes = static_cast<const uint8_t*>(v_cache);
    const int64_t query_blocks = (T + kQueryBlock - 1) / kQueryBlock;

    auto visible_first = [&](int64_t t) { return window > 0 ? std::max<int64_t>(0, int64_t(q_pos[t]) - window + 1) : 0; };
    auto visible_last = [&](int64_t t) { return std::min<int64_t>(q_pos[t], S - 1); };

    auto run_items = [&](int64_t item_begin, int64_t item_end) {
        const int64_t heads_per_item = kQueryBlock * group;
        const size_t floats = size_t(2 * kKeyTile * Dh + heads_per_item * Dh + kKeyTile);
        auto* base = static_cast<float*>(scratch(floats * sizeof(float) + size_t(heads_per_item) * sizeof(QueryHeadState), 1));
        float* k_tile = base;
        float* v_tile = k_tile + kKeyTile * Dh;
        float* acc = v_tile + kKeyTile * Dh;
        float* scores = acc + heads_per_item * Dh;
        auto* state = reinterpret_cast<QueryHeadState*>(scores + kKeyTile);

        for (int64_t item = item_begin; item < item_end; ++item) {
            const int64_t kvh = item % Hkv, t0 = (item / Hkv) * kQueryBlock;
            const int64_t t1 = std::min(T, t0 + kQueryBlock);
            int64_t first = S, last = -1;
            for (int64_t t = t0; t < t1; ++t) first = std::min(first, visible_first(t)), last = std::max(last, visible_last(t));
            std::fill(acc, acc + (t1 - t0) * group * Dh, 0.0f);
            for (int64_t i = 0; i < (t1 - t0) * group; ++i) state[i] = {-INFINITY, 0.0f};

            for (int64_t j0 = first; j0 <= last; j0 += kKeyTile) {
                const int64_t n = std::min(kKeyTile, last - j0 + 1);
                for (int64_t j = 0; j < n; ++j) {
                    const size_t offset = size_t(((j0 + j) * Hkv + kvh) * Dh) * elem;
                    cache_row_to_f32(cache_dtype, k_bytes + offset, k_tile + j * Dh, Dh);
                    cache_row_to_f32(cache_dtype, v_bytes + offset, v_tile + j * Dh, Dh);
                }
                for (int64_t t = t0; t < t1; ++t) {
                    const int64_t lo = std::max(j0, visible_first(t)) - j0, hi = std::min(j0 + n - 1, visible_last(t)) - j0;
                    if (lo > hi) continue;
                    for (int64_t g = 0; g < group; ++g) {
                        const int64_t h = kvh * group + g, slot = (t - t0) * group + g;
                        const float* qh = q + (t * H + h) * Dh;
                        ops.scores(qh, k_tile, lo, hi, Dh, scale, scores);
                        float tile_max = -INFINITY;
                        for (int64_t j = lo; j <= hi; ++j) tile_max = std::max(tile_max, scores[j]);
                        QueryHeadState& st = state[slot];
                        const float new_max = std::max(st.max_score, tile_max);
                        const float correction = fast_exp(st.max_score - new_max);  // 0 on the first tile
                        float* acc_h = acc + slot * Dh;
                        float tile_sum = 0;
                        for (int64_t j = lo; j <= hi; ++j) tile_sum += (scores[j] = fast_exp(scores[j] - new_max));
                        ops.accumulate(acc_h, correction, scores, v_tile, lo, hi, Dh);
                        st.denom = st.denom * correction + tile_sum;
                        st.max_score = new_max;
                    }
                }
            }
            for (int64_t t = t0; t < t1; ++t) {
                for (int64_t g = 0; g < group; ++g) {
                    const int64_t slot = (t - t0) * group + g;
                    float* o = out + (t * H + kvh * group + g) * Dh;
                    const float inv = state[slot].denom > 0 ? 1.0f / state[slot].denom : 0.0f;
                    for (int64_t i = 0; i < Dh; ++i) o[i] = acc[slot * Dh + i] * inv;
                }
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
