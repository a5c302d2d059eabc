// Unpacking of the 6-bit sub-block scales and mins of q4_k / q5_k (12 bytes for 8 pairs, as
// ggml packs them). Internal linkage on purpose: the AVX2 translation unit includes this too,
// compiled for another target, and the two copies must never be merged by the linker.
#pragma once

#include <cstdint>

namespace slm::kernels {
namespace {

// Sub-block j (0..7): scale and min, each 0..63.
inline void kquant_scale_min(int j, const uint8_t* scales, uint8_t* scale, uint8_t* min) {
    if (j < 4) {
        *scale = scales[j] & 63;
        *min = scales[j + 4] & 63;
    } else {
        *scale = uint8_t((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
        *min = uint8_t((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

}  // namespace
}  // namespace slm::kernels
