// NF4 reference quantize/dequantize: the row form BlockNF4 and bitsandbytes' double-quantized
// checkpoint layout, with the code-book rounding of bitsandbytes (nearest level by midpoints,
// values scaled by the reciprocal of the block absmax and clamped to [-1, 1]).
#include "quant/exact_float.h"
#include "quant/nf4.h"

#include "quant/blocks.h"

#include <slm/error.h>
#include <slm/half.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace slm::quant {
namespace {

// Midpoints between neighbouring levels, computed in float32 as bitsandbytes does.
template <size_t N>
std::array<float, N - 1> midpoints_of(const std::array<float, N>& code) {
    std::array<float, N - 1> mid{};
    for (size_t i = 0; i + 1 < N; ++i) mid[i] = (code[i] + code[i + 1]) / 2.0f;
    return mid;
}

int count_below(const float* mid, int size, float v) {
    // The first midpoint >= v (midpoints are sorted), i.e. how many lie strictly below v.
    return int(std::lower_bound(mid, mid + size, v) - mid);
}

// Scales `x` (one block) by the reciprocal of its absmax and returns the nearest-level codes.
template <size_t N>
void encode_block(const float* x, int n, float absmax, const std::array<float, N>& code, uint8_t* codes) {
    static_assert(N >= 2);
    const auto mid = midpoints_of(code);
    const float inv = 1.0f / std::max(absmax, 1e-38f);  // bitsandbytes clamps before the reciprocal
    for (int i = 0; i < n; ++i) {
        const float v = std::clamp(x[i] * inv, -1.0f, 1.0f);
        codes[i] = uint8_t(count_below(mid.data(), int(N - 1), v));
    }
}

float absmax_of(const float* x, int n) {
    float m = 0;
    for (int i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
    return m;
}

void pack_pairs(const uint8_t* codes, int n, uint8_t* out) {
    for (int i = 0; i < n / 2; ++i) out[i] = uint8_t((codes[2 * i] << 4) | codes[2 * i + 1]);
}

// Double quantization: absmax - offset in blocks of 256 with the dynamic 8-bit map (bitsandbytes'
// quantize_blockwise; a final partial block is scaled by division by its clamped absmax).
void quantize_absmax(BnbNf4& t, const std::vector<float>& absmax) {
    const auto& map = t.nested_quant_map;
    const auto mid = midpoints_of(map);
    const size_t count = absmax.size();
    std::vector<float> centered(count);
    for (size_t i = 0; i < count; ++i) centered[i] = absmax[i] - t.offset;
    t.absmax.assign(count, 0);
    t.nested_absmax.clear();
    for (size_t begin = 0; begin < count; begin += kNf4NestedBlock) {
        const int len = int(std::min<size_t>(kNf4NestedBlock, count - begin));
        const float* v = centered.data() + begin;
        float scale = absmax_of(v, len);
        if (len < kNf4NestedBlock) {
            scale = std::max(scale, 1e-38f);
            for (int i = 0; i < len; ++i)
                t.absmax[begin + size_t(i)] = uint8_t(count_below(mid.data(), 255, std::clamp(v[i] / scale, -1.0f, 1.0f)));
        } else {
            encode_block(v, len, scale, map, t.absmax.data() + begin);
        }
        t.nested_absmax.push_back(scale);
    }
}

BnbNf4 encode_bnb(const std::vector<uint8_t>& packed, const std::vector<float>& absmax, int64_t n, const float* offset) {
    BnbNf4 t;
    t.n = n;
    t.packed = packed;
    if (offset) {
        t.offset = *offset;
    } else {
        double sum = 0;
        for (float a : absmax) sum += a;
        t.offset = absmax.empty() ? 0.0f : float(sum / double(absmax.size()));
    }
    quantize_absmax(t, absmax);
    return t;
}

void check_multiple(int64_t n) {
    if (n % kNf4Block != 0) fail("nf4: {} values is not a multiple of the block size {}", n, kNf4Block);
}

BnbNf4 quantize_bnb_impl(const float* x, int64_t n, const float* offset) {
    check_multiple(n);
    const int64_t blocks = n / kNf4Block;
    std::vector<float> absmax(static_cast<size_t>(blocks));
    std::vector<uint8_t> packed(size_t(n / 2));
    uint8_t codes[kNf4Block];
    for (int64_t b = 0; b < blocks; ++b) {
        const float* xb = x + b * kNf4Block;
        absmax[size_t(b)] = absmax_of(xb, kNf4Block);
        encode_block(xb, kNf4Block, absmax[size_t(b)], nf4_code_book(), codes);
        pack_pairs(codes, kNf4Block, packed.data() + b * kNf4Block / 2);
    }
    return encode_bnb(packed, absmax, n, offset);
}

}  // namespace

const std::array<float, 16>& nf4_code_book() {
    // bitsandbytes' get_4bit_type("nf4"), as float32.
    static const std::array<float, 16> code = {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    };
    return code;
}

const std::array<float, 256>& dynamic_map_8bit() {
    // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for exponent i = 0..6,
    // the 2^i midpoints of linspace(0.1, 1, 2^i + 1) times 10^(i-6), with both signs, plus 0 and 1.
    // The float32 values depend on how torch rounds linspace on the CPU that made them (a few
    // entries move by an ulp between scalar and vector code), so the table is the one bitsandbytes
    // produced with torch 2.11 on x86-64 (tests/fixtures/quant/nf4/nested_quant_map.f32). Files
    // carry their own map (`nested_quant_map`), which BnbNf4 keeps.
    static const std::array<float, 256> map = {
        -0x1.fc6666p-1f, -0x1.f53334p-1f, -0x1.eep-1f, -0x1.e6ccccp-1f, -0x1.df999ap-1f, -0x1.d86666p-1f,
        -0x1.d13334p-1f, -0x1.cap-1f, -0x1.c2ccccp-1f, -0x1.bb999ap-1f, -0x1.b46666p-1f, -0x1.ad3334p-1f,
        -0x1.a6p-1f, -0x1.9eccccp-1f, -0x1.97999ap-1f, -0x1.906666p-1f, -0x1.893334p-1f, -0x1.82p-1f,
        -0x1.7accccp-1f, -0x1.73999ap-1f, -0x1.6c6668p-1f, -0x1.653334p-1f, -0x1.5ep-1f, -0x1.56ccccp-1f,
        -0x1.4f999ap-1f, -0x1.486668p-1f, -0x1.413334p-1f, -0x1.3ap-1f, -0x1.32ccccp-1f, -0x1.2b999ap-1f,
        -0x1.246668p-1f, -0x1.1d3334p-1f, -0x1.16p-1f, -0x1.0eccccp-1f, -0x1.079998p-1f, -0x1.006666p-1f,
        -0x1.f26664p-2f, -0x1.e4p-2f, -0x1.d59998p-2f, -0x1.c73334p-2f, -0x1.b8ccccp-2f, -0x1.aa6666p-2f,
        -0x1.9cp-2f, -0x1.8d9998p-2f, -0x1.7f3334p-2f, -0x1.70ccccp-2f, -0x1.626666p-2f, -0x1.54p-2f,
        -0x1.459998p-2f, -0x1.373334p-2f, -0x1.28ccccp-2f, -0x1.1a6668p-2f, -0x1.0cp-2f, -0x1.fb3332p-3f,
        -0x1.de6666p-3f, -0x1.c1999ap-3f, -0x1.a4ccccp-3f, -0x1.88p-3f, -0x1.6b3334p-3f, -0x1.4e6666p-3f,
        -0x1.31999ap-3f, -0x1.14ccccp-3f, -0x1.fp-4f, -0x1.b66668p-4f, -0x1.93d70ap-4f, -0x1.8851eep-4f,
        -0x1.7ccccep-4f, -0x1.7147aep-4f, -0x1.65c29p-4f, -0x1.5a3d7p-4f, -0x1.4eb854p-4f, -0x1.433334p-4f,
        -0x1.37ae14p-4f, -0x1.2c28f6p-4f, -0x1.20a3d6p-4f, -0x1.151ebap-4f, -0x1.09999ap-4f, -0x1.fc28f6p-5f,
        -0x1.e51ebap-5f, -0x1.ce147ap-5f, -0x1.b70a3ep-5f, -0x1.ap-5f, -0x1.88f5c2p-5f, -0x1.71eb86p-5f,
        -0x1.5ae146p-5f, -0x1.43d70ap-5f, -0x1.2ccccep-5f, -0x1.15c29p-5f, -0x1.fd70a4p-6f, -0x1.cf5c2ap-6f,
        -0x1.a147aep-6f, -0x1.733334p-6f, -0x1.451ebap-6f, -0x1.170a3ep-6f, -0x1.d1eb86p-7f, -0x1.75c29p-7f,
        -0x1.3e76c8p-7f, -0x1.2c083p-7f, -0x1.19999ap-7f, -0x1.072b02p-7f, -0x1.e978d4p-8f, -0x1.c49ba6p-8f,
        -0x1.9fbe76p-8f, -0x1.7ae148p-8f, -0x1.56041ap-8f, -0x1.3126e8p-8f, -0x1.0c49bap-8f, -0x1.ced914p-9f,
        -0x1.851eb8p-9f, -0x1.3b645ap-9f, -0x1.e353f8p-10f, -0x1.4fdf3ap-10f, -0x1.eecbfep-11f, -0x1.b3d07cp-11f,
        -0x1.78d5p-11f, -0x1.3dd982p-11f, -0x1.02de02p-11f, -0x1.8fc506p-12f, -0x1.19ce0ap-12f, -0x1.47ae16p-13f,
        -0x1.743e96p-14f, -0x1.15df66p-14f, -0x1.6f0068p-15f, -0x1.64840cp-16f, -0x1.040bfep-17f, -0x1.b43528p-19f,
        -0x1.27476ep-21f, 0.0f, 0x1.27476ep-21f, 0x1.b43528p-19f, 0x1.040bfep-17f, 0x1.64840cp-16f,
        0x1.6f0068p-15f, 0x1.15df66p-14f, 0x1.743e96p-14f, 0x1.47ae16p-13f, 0x1.19ce0ap-12f, 0x1.8fc506p-12f,
        0x1.02de02p-11f, 0x1.3dd982p-11f, 0x1.78d5p-11f, 0x1.b3d07cp-11f, 0x1.eecbfep-11f, 0x1.4fdf3ap-10f,
        0x1.e353f8p-10f, 0x1.3b645ap-9f, 0x1.851eb8p-9f, 0x1.ced914p-9f, 0x1.0c49bap-8f, 0x1.3126e8p-8f,
        0x1.56041ap-8f, 0x1.7ae148p-8f, 0x1.9fbe76p-8f, 0x1.c49ba6p-8f, 0x1.e978d4p-8f, 0x1.072b02p-7f,
        0x1.19999ap-7f, 0x1.2c083p-7f, 0x1.3e76c8p-7f, 0x1.75c29p-7f, 0x1.d1eb86p-7f, 0x1.170a3ep-6f,
        0x1.451ebap-6f, 0x1.733334p-6f, 0x1.a147aep-6f, 0x1.cf5c2ap-6f, 0x1.fd70a4p-6f, 0x1.15c29p-5f,
        0x1.2ccccep-5f, 0x1.43d70ap-5f, 0x1.5ae146p-5f, 0x1.71eb86p-5f, 0x1.88f5c2p-5f, 0x1.ap-5f,
        0x1.b70a3ep-5f, 0x1.ce147ap-5f, 0x1.e51ebap-5f, 0x1.fc28f6p-5f, 0x1.09999ap-4f, 0x1.151ebap-4f,
        0x1.20a3d6p-4f, 0x1.2c28f6p-4f, 0x1.37ae14p-4f, 0x1.433334p-4f, 0x1.4eb854p-4f, 0x1.5a3d7p-4f,
        0x1.65c29p-4f, 0x1.7147aep-4f, 0x1.7ccccep-4f, 0x1.8851eep-4f, 0x1.93d70ap-4f, 0x1.b66668p-4f,
        0x1.fp-4f, 0x1.14ccccp-3f, 0x1.31999ap-3f, 0x1.4e6666p-3f, 0x1.6b3334p-3f, 0x1.88p-3f,
        0x1.a4ccccp-3f, 0x1.c1999ap-3f, 0x1.de6666p-3f, 0x1.fb3332p-3f, 0x1.0cp-2f, 0x1.1a6668p-2f,
        0x1.28ccccp-2f, 0x1.373334p-2f, 0x1.459998p-2f, 0x1.54p-2f, 0x1.626666p-2f, 0x1.70ccccp-2f,
        0x1.7f3334p-2f, 0x1.8d9998p-2f, 0x1.9cp-2f, 0x1.aa6666p-2f, 0x1.b8ccccp-2f, 0x1.c73334p-2f,
        0x1.d59998p-2f, 0x1.e4p-2f, 0x1.f26664p-2f, 0x1.006666p-1f, 0x1.079998p-1f, 0x1.0eccccp-1f,
        0x1.16p-1f, 0x1.1d3334p-1f, 0x1.246668p-1f, 0x1.2b999ap-1f, 0x1.32ccccp-1f, 0x1.3ap-1f,
        0x1.413334p-1f, 0x1.486668p-1f, 0x1.4f999ap-1f, 0x1.56ccccp-1f, 0x1.5ep-1f, 0x1.653334p-1f,
        0x1.6c6668p-1f, 0x1.73999ap-1f, 0x1.7accccp-1f, 0x1.82p-1f, 0x1.893334p-1f, 0x1.906666p-1f,
        0x1.97999ap-1f, 0x1.9eccccp-1f, 0x1.a6p-1f, 0x1.ad3334p-1f, 0x1.b46666p-1f, 0x1.bb999ap-1f,
        0x1.c2ccccp-1f, 0x1.cap-1f, 0x1.d13334p-1f, 0x1.d86666p-1f, 0x1.df999ap-1f, 0x1.e6ccccp-1f,
        0x1.eep-1f, 0x1.f53334p-1f, 0x1.fc6666p-1f, 0x1p+0f,
    };
    return map;
}

int nearest_code_index(const float* code, int size, float v) {
    std::vector<float> mid(size_t(size - 1));
    for (int i = 0; i + 1 < size; ++i) mid[size_t(i)] = (code[i] + code[i + 1]) / 2.0f;
    return count_below(mid.data(), size - 1, v);
}

BnbNf4 quantize_bnb_nf4(const float* x, int64_t n) { return quantize_bnb_impl(x, n, nullptr); }
BnbNf4 quantize_bnb_nf4(const float* x, int64_t n, float offset) { return quantize_bnb_impl(x, n, &offset); }

std::vector<float> bnb_block_absmax(const BnbNf4& t) {
    const auto& map = t.nested_quant_map;
    std::vector<float> out(t.absmax.size());
    for (size_t i = 0; i < out.size(); ++i) {
        const float scale = t.nested_absmax[i / kNf4NestedBlock];
        out[i] = map[t.absmax[i]] * scale + t.offset;
    }
    return out;
}

void dequantize_bnb_nf4(const BnbNf4& t, float* y) {
    const auto& code = t.quant_map;
    const auto absmax = bnb_block_absmax(t);
    for (int64_t i = 0; i < t.n; ++i) {
        const uint8_t byte = t.packed[size_t(i / 2)];
        const int q = (i % 2 == 0) ? byte >> 4 : byte & 0x0f;
        y[i] = code[size_t(q)] * absmax[size_t(i / kNf4Block)];
    }
}

void bnb_nf4_to_blocks(const BnbNf4& t, void* blocks) {
    auto* out = static_cast<BlockNF4*>(blocks);
    const auto absmax = bnb_block_absmax(t);
    for (size_t b = 0; b < absmax.size(); ++b) {
        out[b].absmax = f32_to_f16(absmax[b]);
        std::memcpy(out[b].qs, t.packed.data() + b * kNf4Block / 2, kNf4Block / 2);
    }
}

BnbNf4 blocks_to_bnb_nf4(const void* blocks, int64_t n) {
    check_multiple(n);
    const auto* in = static_cast<const BlockNF4*>(blocks);
    const int64_t count = n / kNf4Block;
    std::vector<float> absmax(static_cast<size_t>(count));
    std::vector<uint8_t> packed(size_t(n / 2));
    for (int64_t b = 0; b < count; ++b) {
        absmax[size_t(b)] = f16_to_f32(in[b].absmax);
        std::memcpy(packed.data() + b * kNf4Block / 2, in[b].qs, kNf4Block / 2);
    }
    return encode_bnb(packed, absmax, n, nullptr);
}

// Row form: the codes are bitsandbytes' (computed with the f32 absmax); the absmax is kept as f16.
void quantize_nf4(const float* src, void* dst, int64_t n) {
    auto* out = static_cast<BlockNF4*>(dst);
    uint8_t codes[kNf4Block];
    for (int64_t b = 0; b < n / kNf4Block; ++b) {
        const float* x = src + b * kNf4Block;
        const float absmax = absmax_of(x, kNf4Block);
        encode_block(x, kNf4Block, absmax, nf4_code_book(), codes);
        pack_pairs(codes, kNf4Block, out[b].qs);
        out[b].absmax = f32_to_f16(absmax);
    }
}

void dequantize_nf4(const void* src, float* dst, int64_t n) {
    const auto* in = static_cast<const BlockNF4*>(src);
    const auto& code = nf4_code_book();
    for (int64_t b = 0; b < n / kNf4Block; ++b) {
        const float absmax = f16_to_f32(in[b].absmax);
        float* y = dst + b * kNf4Block;
        for (int j = 0; j < kNf4Block / 2; ++j) {
            y[2 * j] = code[size_t(in[b].qs[j] >> 4)] * absmax;
            y[2 * j + 1] = code[size_t(in[b].qs[j] & 0x0f)] * absmax;
        }
    }
}

}  // namespace slm::quant
