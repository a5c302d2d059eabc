// The interleaved8 layout (Layout in <slm/tensor.h>) of the 32-element block types whose block is
// one f16 scale and then codes: q4_0 (16 bytes of nibbles) and q8_0 (32 signed bytes). Per group of
// 8 rows and per block index b: the 8 rows' scales, then their codes in 4-byte slices, slice j of
// row r at qs[32 j + 4 r]. q8_0's slice j holds elements 4j..4j+3; q4_0's, whose byte i holds
// element i in its low nibble and i + 16 in its high one, holds elements 4j..4j+3 in its low
// nibbles and 16+4j..16+4j+3 in its high ones. One 32-byte load is then one 4-element step of all
// 8 rows, the order the GEMM's packed panels have (gemm_avx2.cpp), with nothing to unpack but
// nibbles, and a matrix is one sequential stream whatever the number of tokens.
#pragma once

#include "quant/blocks.h"

#include <slm/tensor.h>

#include <cstdint>

namespace slm::kernels {

constexpr int kInterleavedRows = 8;

template <typename Block>
struct Interleaved8 {
    uint16_t d[kInterleavedRows];
    uint8_t qs[kInterleavedRows * sizeof(Block::qs)];
};
using BlockQ4_0x8 = Interleaved8<quant::BlockQ4_0>;
using BlockQ8_0x8 = Interleaved8<quant::BlockQ8_0>;
static_assert(sizeof(BlockQ4_0x8) == 8 * sizeof(quant::BlockQ4_0) && sizeof(BlockQ8_0x8) == 8 * sizeof(quant::BlockQ8_0));

// Whether W (layout rows) has an interleaved8 form: q4_0 or q8_0 with a multiple of 8 rows.
bool has_interleaved_form(const Tensor& W);

// Row n of an interleaved8 tensor, back in its dtype's ordinary blocks at dst (row_bytes bytes):
// what the reference matmul reads.
void interleaved_row(const Tensor& W, int64_t n, void* dst);

}  // namespace slm::kernels
