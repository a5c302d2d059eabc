// Activation quantization to 8 bits per element, scale = absmax / 127 per block, rounding to
// nearest: the relative error per element is at most 1/254 of its block's largest magnitude.
#include "kernels/cpu/activation_blocks.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace slm::kernels {
namespace {

// Quantizes n values (a multiple of 8) to qs with one scale; returns the scale. The largest
// magnitude is an integer maximum of the values' bits without the sign (the same order for
// non-negative floats) in eight lanes, which GCC vectorizes; a float maximum it left as a scalar
// chain that cost more than the rest of the block.
inline float quantize_block(const float* x, int n, int8_t* qs) {
    uint32_t lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < n; i += 8)
        for (int l = 0; l < 8; ++l) lanes[l] = std::max(lanes[l], std::bit_cast<uint32_t>(x[i + l]) & 0x7fffffffu);
    const float amax = std::bit_cast<float>(*std::max_element(lanes, lanes + 8));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; ++i) qs[i] = int8_t(std::nearbyint(x[i] * id));
    return d;
}

}  // namespace

size_t activation_row_bytes(ActFormat format, int64_t K) {
    switch (format) {
    case ActFormat::f32: return size_t(K) * sizeof(float);
    case ActFormat::q8_32: return size_t(K / 32) * sizeof(ActBlock32);
    case ActFormat::q8_256: return size_t(K / 256) * sizeof(ActBlock256);
    }
    return 0;
}

void quantize_activation_row(ActFormat format, const float* x, int64_t K, void* dst) {
    switch (format) {
    case ActFormat::f32: std::memcpy(dst, x, size_t(K) * sizeof(float)); return;
    case ActFormat::q8_32: {
        auto* b = static_cast<ActBlock32*>(dst);
        for (int64_t i = 0; i < K / 32; ++i) {
            b[i].d = quantize_block(x + i * 32, 32, b[i].qs);
            int sum = 0;
            for (int8_t q : b[i].qs) sum += q;
            b[i].sum = b[i].d * float(sum);
        }
        return;
    }
    case ActFormat::q8_256: {
        auto* b = static_cast<ActBlock256*>(dst);
        for (int64_t i = 0; i < K / 256; ++i) {
            b[i].d = quantize_block(x + i * 256, 256, b[i].qs);
            for (int g = 0; g < 16; ++g) {
                int sum = 0;
                for (int j = 0; j < 16; ++j) sum += b[i].qs[g * 16 + j];
                b[i].bsums[g] = int16_t(sum);
            }
        }
        return;
    }
    }
}

}  // namespace slm::kernels
