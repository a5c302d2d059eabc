// The two inner loops of attention over one tile of keys (f32, converted from the cache once per
// tile), one table per instruction-set level: query-key scores and the probability-weighted sum
// of value rows. attention.cpp drives them; the portable versions are its reference.
#pragma once

#include "kernels/cpu/isa.h"

#include <cstdint>

namespace slm::kernels {

struct AttentionTileOps {
    // scores[j] = scale * (q . k_j) for j in [lo, hi]; k_j at k_tile + j * Dh.
    void (*scores)(const float* q, const float* k_tile, int64_t lo, int64_t hi, int64_t Dh, float scale, float* scores);
    // acc = acc * correction + sum over j in [lo, hi] of p[j] * v_j; v_j at v_tile + j * Dh.
    void (*accumulate)(float* acc, float correction, const float* p, const float* v_tile, int64_t lo, int64_t hi, int64_t Dh);
};

const AttentionTileOps& attention_tile_ops(Isa isa);

// Per level, defined in attention.cpp (portable) and attention_tile_avx2.cpp.
const AttentionTileOps& attention_tile_ops_portable();
const AttentionTileOps& attention_tile_ops_avx2();

inline const AttentionTileOps& attention_tile_ops(Isa isa) {
    return isa == Isa::avx2 ? attention_tile_ops_avx2() : attention_tile_ops_portable();
}

}  // namespace slm::kernels
