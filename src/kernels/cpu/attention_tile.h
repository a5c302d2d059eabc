// The inner loops of attention over one tile of keys (converted from the cache to f32 once per
// tile), one table per instruction-set level. attention.cpp drives them over a block of query
// heads at once (its "slots": up to 16 tokens times the query heads sharing a kv head), so both
// products are small matrix products whose operands stay in L1/L2 and are reused across slots:
//   scores (slots x keys)  = queries (slots x Dh) . keys^T (Dh x keys)
//   acc    (slots x Dh)   += probabilities (slots x keys) . values (keys x Dh)
// The keys are transposed once per tile so that both products run along rows of their right
// operand. The portable versions are the reference of the others.
#pragma once

#include "kernels/cpu/isa.h"

#include <cstdint>

namespace slm::kernels {

struct AttentionTileOps {
    // c[r * ldc + i] = (accumulate ? c[r * ldc + i] : 0) + sum over k < K of a[r * lda + k] * b[k * ldb + i]
    // for r < rows, i < W. Each c element is summed over k in order, so its value does not
    // depend on rows or on where it sits in W (a slot gets the same numbers alone or in a block).
    void (*product)(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t rows,
                    int64_t K, int64_t W, bool accumulate);
    // t[d * ldt + j] = rows[j * D + d] for j < n, d < D, and t[d * ldt + j] = 0 for j in
    // [n, round_up(n, 8)): the padding keeps a product over W = round_up(n, 8) columns finite.
    void (*transpose)(const float* rows, int64_t n, int64_t D, float* t, int64_t ldt);
    // One online-softmax step over a row of scores: m = max(*running_max, s[lo..hi]);
    // s[j] = exp(s[j] - m) for j in [lo, hi] and 0 for the rest of [0, n); *running_max = m.
    // Returns the sum of the new s. Needs lo <= hi.
    float (*exponentiate)(float* s, int64_t lo, int64_t hi, int64_t n, float* running_max);
};

// Per level, defined in attention.cpp (portable) and attention_tile_avx2.cpp.
const AttentionTileOps& attention_tile_ops_portable();
const AttentionTileOps& attention_tile_ops_avx2();

inline const AttentionTileOps& attention_tile_ops(Isa isa) {
    return isa >= Isa::avx2 ? attention_tile_ops_avx2() : attention_tile_ops_portable();  // avx512: AVX2's
}

}  // namespace slm::kernels
