// AVX2 unpacking of the 32-element block types' codes (block32_formats.h) into 32 bytes in element
// order, shared by the row dots and the GEMM. Include only after `#pragma GCC target("avx2,...")`
// and <immintrin.h>; internal linkage so that no other translation unit shares these copies.
#pragma once

#include "kernels/cpu/block32_formats.h"

#include <cstdint>

namespace slm::kernels {
namespace {

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// The 32 nibbles of 16 bytes in element order: low nibbles first (elements 0..15), then high.
inline __m256i unpack_nibbles_32(const uint8_t* p) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Bit j of the 32-bit qh as 0x10 in byte j: each byte picks the qh byte holding its bit, then
// tests its own bit.
inline __m256i fifth_bits_32(const uint8_t* qh) {
    uint32_t bits;
    __builtin_memcpy(&bits, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(int(bits)),
                                               _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

// A 32-element block's codes as 32 bytes in element order (see block32_formats.h).
template <typename Format>
inline __m256i load_codes(const typename Format::Block& b) {
    if constexpr (Format::kCodes == Codes::int8) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
    } else {
        const __m256i nibbles = unpack_nibbles_32(b.qs);
        if constexpr (Format::kCodes == Codes::nibbles_fifth_bit) return _mm256_or_si256(nibbles, fifth_bits_32(b.qh));
        if constexpr (Format::kCodes == Codes::nibble_levels) {
            const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::kIq4NlLevels)));
            return _mm256_shuffle_epi8(levels, nibbles);
        }
        return nibbles;
    }
}

// The block's offset (see Block32Format) given its scale d.
template <typename Format>
inline float block_offset(const typename Format::Block& b, float d) {
    if constexpr (Format::kAffine) return half_to_float(b.m);
    else return float(Format::kCodeOffset) * d;
}

}  // namespace
}  // namespace slm::kernels
