// The interleaved8 layout (Layout in <slm/tensor.h>): each group of 8 rows stored block by block,
// so that the 8 rows of one block lie together: their scales side by side (one vector load holds
// all 8), and their codes in 4-byte slices, slice j of row r at byte 32 j + 4 r of its array,
// where slice j is bytes 4j..4j+3 of the row's own code array. One 32-byte load is then one
// 4-element step of 8 rows (for nibble codes, two steps: low and high nibbles), the order the
// GEMM's packed panels have (gemm_avx2.cpp), and a matrix is one sequential stream whatever the
// number of tokens. A group block is exactly 8 file blocks in size, so tensor sizes and row
// strides stay those of the file's layout (row 8g starts group g).
//   q4_0: byte i of qs holds element i (low nibble) and i + 16 (high): slice j = elements
//         4j..4j+3 and 16+4j..16+4j+3.
//   q8_0: slice j = elements 4j..4j+3.
//   q5_0: sliced as q4_0; the 8 rows' 32-bit fifth-bit words side by side.
//   q4_k: byte 32c + i of qs holds element 64c + i (low) and 64c + 32 + i (high); the 12 bytes of
//         6-bit scales and mins are kept packed, as three 32-bit words per row, word w of the 8
//         rows side by side (unpacked for all 8 rows at once).
//   q6_k: ql and qh sliced alike; the int8 scales of each 32-element sub-block j (two, one per
//         16 elements) as pairs, the 8 rows' pairs side by side: one 16-byte load widens to the
//         8 rows' int16 pairs.
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

struct BlockQ5_0x8 {
    uint16_t d[kInterleavedRows];
    uint32_t qh[kInterleavedRows];
    uint8_t qs[kInterleavedRows * quant::QK / 2];
};

struct BlockQ4_Kx8 {
    uint16_t d[kInterleavedRows], dmin[kInterleavedRows];
    uint32_t scale_words[3][kInterleavedRows];  // scale_words[w][r]: bytes 4w..4w+3 of row r's scales
    uint8_t qs[kInterleavedRows * quant::QK_K / 2];
};

struct BlockQ6_Kx8 {
    uint16_t d[kInterleavedRows];
    int8_t scale_pairs[quant::QK_K / 32][kInterleavedRows][2];  // [j][r]: row r's scales 2j, 2j + 1
    uint8_t ql[kInterleavedRows * quant::QK_K / 2];
    uint8_t qh[kInterleavedRows * quant::QK_K / 4];
};

static_assert(sizeof(BlockQ4_0x8) == 8 * sizeof(quant::BlockQ4_0) && sizeof(BlockQ8_0x8) == 8 * sizeof(quant::BlockQ8_0) &&
              sizeof(BlockQ5_0x8) == 8 * sizeof(quant::BlockQ5_0) &&
              sizeof(BlockQ4_Kx8) == 8 * sizeof(quant::BlockQ4_K) && sizeof(BlockQ6_Kx8) == 8 * sizeof(quant::BlockQ6_K));

// Whether W (layout rows) has an interleaved8 form: q4_0, q5_0, q8_0, q4_k or q6_k with a
// multiple of 8 rows.
bool has_interleaved_form(const Tensor& W);

// Row n of an interleaved8 tensor, back in its dtype's ordinary blocks at dst (row_bytes bytes):
// what the reference matmul reads.
void interleaved_row(const Tensor& W, int64_t n, void* dst);

// Blocks [first, first + count) of row n only (count blocks' bytes at dst): for readers of a
// column range of the matrix (matmul_backward_input), which would otherwise take out whole rows.
void interleaved_row_blocks(const Tensor& W, int64_t n, int64_t first, int64_t count, void* dst);

}  // namespace slm::kernels
