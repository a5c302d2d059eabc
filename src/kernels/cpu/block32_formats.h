// The 32-element weight block types (q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl) described for the dot
// product kernels: every element is scale * code + offset, with one integer code per element and
// one scale and offset per block, so that one kernel template per instruction set serves them all.
// Internal linkage on purpose, as kquant_scales.h: the AVX2 translation unit includes this too.
#pragma once

#include "quant/blocks.h"

#include <cstdint>
#include <cstring>

namespace slm::kernels {
namespace {

// How a block stores its codes. Signed codes (int8, iq4_nl levels) go through vpsign in the AVX2
// dot; unsigned ones (0..15, 0..31) go straight into vpmaddubsw and their centre is the offset.
enum class Codes {
    int8,               // qs[32] as signed bytes (q8_0)
    nibbles,            // element j < 16 in the low nibble of qs[j], j + 16 in its high nibble
    nibbles_fifth_bit,  // nibbles, plus bit j of the 32-bit qh as the code's bit 4
    nibble_levels,      // nibbles as indices into quant::kIq4NlLevels
};

// kAffine: the block stores a minimum m (q4_1, q5_1) and offset = m; otherwise the offset is
// kCodeOffset * d, the centre of unsigned codes (-8 for q4_0, -16 for q5_0) or 0 for signed ones.
template <typename BlockT, Codes kCodesT, bool kAffineT>
struct Block32Format {
    using Block = BlockT;
    static constexpr Codes kCodes = kCodesT;
    static constexpr bool kAffine = kAffineT;
    static constexpr bool kSignedCodes = kCodes == Codes::int8 || kCodes == Codes::nibble_levels;
    static constexpr int kCodeOffset = kAffine || kSignedCodes ? 0 : kCodes == Codes::nibbles ? -8 : -16;

    // The block's 32 codes in element order (the portable kernel and the tests' second opinion).
    static void codes(const Block& b, int q[32]) {
        if constexpr (kCodes == Codes::int8) {
            for (int j = 0; j < 32; ++j) q[j] = b.qs[j];
        } else {
            for (int j = 0; j < 16; ++j) q[j] = b.qs[j] & 15, q[j + 16] = b.qs[j] >> 4;
            if constexpr (kCodes == Codes::nibbles_fifth_bit) {
                uint32_t high;
                std::memcpy(&high, b.qh, 4);
                for (int j = 0; j < 32; ++j) q[j] |= int((high >> j) & 1) << 4;
            }
            if constexpr (kCodes == Codes::nibble_levels)
                for (int j = 0; j < 32; ++j) q[j] = quant::kIq4NlLevels[q[j]];
        }
    }
};

using Q8_0Format = Block32Format<quant::BlockQ8_0, Codes::int8, false>;
using Q4_0Format = Block32Format<quant::BlockQ4_0, Codes::nibbles, false>;
using Q4_1Format = Block32Format<quant::BlockQ4_1, Codes::nibbles, true>;
using Q5_0Format = Block32Format<quant::BlockQ5_0, Codes::nibbles_fifth_bit, false>;
using Q5_1Format = Block32Format<quant::BlockQ5_1, Codes::nibbles_fifth_bit, true>;
using IQ4_NLFormat = Block32Format<quant::BlockIQ4_NL, Codes::nibble_levels, false>;

}  // namespace
}  // namespace slm::kernels
