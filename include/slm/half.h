// IEEE half (f16) and bfloat16 conversions, exact and branch-light; the F16C instruction is used
// when the compiler targets it. Rounding is to nearest even, as PyTorch and ggml round.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace slm {

inline float f16_to_f32(uint16_t h) {
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    const uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf or nan
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {  // subnormal half: value = mant * 2^-24
        const float v = float(mant) * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return std::bit_cast<float>(bits);
#endif
}

inline uint16_t f32_to_f16(float f) {
#if defined(__F16C__)
    return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
#else
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const uint32_t sign = (x >> 16) & 0x8000;
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return uint16_t(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // rounds to infinity
    if (ax < 0x38800000u) {                                  // subnormal or zero half
        const float v = std::bit_cast<float>(ax) * 16777216.0f;  // scale by 2^24
        const uint32_t m = uint32_t(__builtin_nearbyintf(v));
        return uint16_t(sign | m);
    }
    const uint32_t mant_odd = (ax >> 13) & 1;
    const uint32_t rounded = ax + 0xfffu + mant_odd;
    return uint16_t(sign | ((rounded - 0x38000000u) >> 13));
#endif
}

inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
    uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // quiet nan
    x += 0x7fffu + ((x >> 16) & 1);
    return uint16_t(x >> 16);
}

}  // namespace slm
