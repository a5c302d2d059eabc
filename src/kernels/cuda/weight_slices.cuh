// ggml's quantized blocks read on the GPU as 32-element slices: each weight type loads slice s of a
// row into 32 signed 8-bit codes in element order, two scales (elements 0-15 and 16-31) and an
// offset, so that element e is scale[e / 16] * code[e] - offset. The matvec kernels take integer
// dot products of these codes with 8-bit activations (dp4a); get_rows converts them.
// Blocks as src/quant/blocks.h and src/quant/kquants.cpp describe them, in the GPU's layout of a
// matrix (weight_layout.cu): the blocks whose size is not a multiple of 16 bytes (q4_0: 18, q8_0:
// 34, q6_k: 210) are split into a body (their codes: 16, 32 and 208 bytes) and a tail (the f16
// scale), all the matrix's bodies first, row by row, then all its tails. Every body then starts
// 16-byte aligned and loads as 128-bit words instead of 16-bit ones (q6_k's in the file's layout
// took 32 loads a slice and read at 39% of the bandwidth). q4_k and q5_k (144 and 176 bytes) stay
// whole: they have no tail.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

namespace slm::cuda::slices {

struct Slice {
    int q[8];        // 32 codes, four to an int, element order
    float scale[2];  // for elements 0-15 and 16-31
    float offset;
};

// Where row r's blocks lie in a matrix of `rows` rows in the GPU's layout: its bodies, and its
// tails (unused for the types without one).
struct Row {
    const uint8_t* body;
    const uint8_t* tail;
};

template <class Type>
__device__ __forceinline__ Row row_at(const uint8_t* W, int64_t rows, int blocks_per_row, int64_t r) {
    const int64_t first = r * blocks_per_row;
    return {W + first * Type::kBodyBytes, W + rows * blocks_per_row * Type::kBodyBytes + first * Type::kTailBytes};
}

// Eight ints (32 bytes) at a 16-byte aligned address, as two 128-bit loads.
__device__ __forceinline__ void ints_at_a16(const uint8_t* p, int out[8]) {
    const int4 a = reinterpret_cast<const int4*>(p)[0], b = reinterpret_cast<const int4*>(p)[1];
    out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w;
    out[4] = b.x, out[5] = b.y, out[6] = b.z, out[7] = b.w;
}

// Each type's block: kBlockBytes in the file, its body (kBodyBytes from byte kBodyAt) and its
// tail (kTailBytes from byte kTailAt), and the 32-element slices a block holds. Reading a slice
// is two steps: fetch, the loads alone (a Raw of a few registers: the bytes as they lie), and
// decode, the arithmetic that makes a Slice of them. The matvec kernel keeps kDepth Raws in
// flight per lane and row ahead of the slice it decodes (more bytes in flight than one load at a
// time, for fewer registers than as many Slices); load is both at once.

// The f16 bits of tail i (a block's scale) of a row.
__device__ __forceinline__ uint32_t tail_bits(const Row& row, int i) {
    return *reinterpret_cast<const uint16_t*>(row.tail + 2 * i);
}

__device__ __forceinline__ float half_from_bits(uint32_t bits) {
    return __half2float(__ushort_as_half(uint16_t(bits)));
}

// q4_0: 18-byte blocks of 32: f16 d, then 16 bytes holding elements j (low nibble) and j + 16
// (high nibble); element = d * (q - 8).
struct Q4_0 {
    static constexpr int kSlicesPerBlock = 1, kBlockBytes = 18, kDepth = 4;
    static constexpr int kBodyAt = 2, kBodyBytes = 16, kTailAt = 0, kTailBytes = 2;
    struct Raw {
        int4 codes;
        uint32_t d;
    };
    __device__ static Raw fetch(const Row& row, int s) {
        return {*reinterpret_cast<const int4*>(row.body + s * kBodyBytes), tail_bits(row, s)};
    }
    __device__ static Slice decode(const Raw& raw, int) {
        const int words[4] = {raw.codes.x, raw.codes.y, raw.codes.z, raw.codes.w};
        Slice r;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            r.q[i] = words[i] & 0x0f0f0f0f;
            r.q[4 + i] = (words[i] >> 4) & 0x0f0f0f0f;
        }
        const float d = half_from_bits(raw.d);
        r.scale[0] = r.scale[1] = d;
        r.offset = 8.0f * d;
        return r;
    }
    __device__ static Slice load(const Row& row, int s) { return decode(fetch(row, s), s); }
};

// Eight ints (32 bytes) from two 128-bit words.
__device__ __forceinline__ void ints_of(const int4& a, const int4& b, int out[8]) {
    out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w;
    out[4] = b.x, out[5] = b.y, out[6] = b.z, out[7] = b.w;
}

// 32 bytes at a 16-byte aligned address, as two 128-bit words.
struct Words32 {
    int4 a, b;
};
__device__ __forceinline__ Words32 words32_at(const uint8_t* p) {
    return {reinterpret_cast<const int4*>(p)[0], reinterpret_cast<const int4*>(p)[1]};
}

// q8_0: 34-byte blocks of 32: f16 d, then 32 signed codes; element = d * q.
struct Q8_0 {
    static constexpr int kSlicesPerBlock = 1, kBlockBytes = 34, kDepth = 2;
    static constexpr int kBodyAt = 2, kBodyBytes = 32, kTailAt = 0, kTailBytes = 2;
    struct Raw {
        Words32 codes;
        uint32_t d;
    };
    __device__ static Raw fetch(const Row& row, int s) {
        return {words32_at(row.body + s * kBodyBytes), tail_bits(row, s)};
    }
    __device__ static Slice decode(const Raw& raw, int) {
        Slice r;
        ints_of(raw.codes.a, raw.codes.b, r.q);
        r.scale[0] = r.scale[1] = half_from_bits(raw.d);
        r.offset = 0.0f;
        return r;
    }
    __device__ static Slice load(const Row& row, int s) { return decode(fetch(row, s), s); }
};

// The 6-bit scale and minimum of sub-block j of a q4_k / q5_k super-block, from the block's first
// 16 bytes (head: d and dmin in .x, the 12 bytes of scales and minimums in .y .z .w), by shifts
// rather than a byte array (j differs between lanes: registers indexed by it would go to local
// memory).
__device__ __forceinline__ int scale_byte(const int4& head, int m) {
    const uint32_t word = uint32_t(m < 4 ? head.y : m < 8 ? head.z : head.w);
    return int((word >> (8 * (m % 4))) & 0xff);
}
__device__ __forceinline__ void k4_scales(const int4& head, int j, Slice& r) {
    int scale, min;
    if (j < 4) {
        scale = scale_byte(head, j) & 63;
        min = scale_byte(head, j + 4) & 63;
    } else {
        scale = (scale_byte(head, j + 4) & 0x0f) | ((scale_byte(head, j - 4) >> 6) << 4);
        min = (scale_byte(head, j + 4) >> 4) | ((scale_byte(head, j) >> 6) << 4);
    }
    r.scale[0] = r.scale[1] = half_from_bits(uint32_t(head.x)) * float(scale);
    r.offset = half_from_bits(uint32_t(head.x) >> 16) * float(min);
}

// q4_k: 144-byte super-blocks of 256 (8 sub-blocks of 32): f16 d and dmin, 12 bytes of 6-bit
// scales/minimums, 128 bytes of nibbles (sub-block j: bytes 32*(j/2).., low nibble for even j);
// element = d * scale_j * q - dmin * min_j. Blocks are 16-byte aligned: 128-bit loads.
struct Q4_K {
    static constexpr int kSlicesPerBlock = 8, kBlockBytes = 144, kDepth = 2;
    static constexpr int kBodyAt = 0, kBodyBytes = 144, kTailAt = 0, kTailBytes = 0;
    struct Raw {
        int4 head;
        Words32 nibbles;
    };
    __device__ static Raw fetch(const Row& row, int s) {
        const uint8_t* b = row.body + (s / 8) * kBlockBytes;
        return {*reinterpret_cast<const int4*>(b), words32_at(b + 16 + 32 * ((s % 8) / 2))};
    }
    __device__ static Slice decode(const Raw& raw, int s) {
        const int j = s % 8;
        Slice r;
        int v[8];
        ints_of(raw.nibbles.a, raw.nibbles.b, v);
        const int shift = 4 * (j & 1);
#pragma unroll
        for (int i = 0; i < 8; ++i) r.q[i] = (v[i] >> shift) & 0x0f0f0f0f;
        k4_scales(raw.head, j, r);
        return r;
    }
    __device__ static Slice load(const Row& row, int s) { return decode(fetch(row, s), s); }
};

// q5_k: 176-byte super-blocks: q4_k's header, 32 bytes of fifth bits (element 32*j + l: bit j of
// byte l), then q4_k's nibbles; element = d * scale_j * q - dmin * min_j with q in 0..31.
struct Q5_K {
    static constexpr int kSlicesPerBlock = 8, kBlockBytes = 176, kDepth = 1;
    static constexpr int kBodyAt = 0, kBodyBytes = 176, kTailAt = 0, kTailBytes = 0;
    struct Raw {
        int4 head;
        Words32 high, low;
    };
    __device__ static Raw fetch(const Row& row, int s) {
        const uint8_t* b = row.body + (s / 8) * kBlockBytes;
        return {*reinterpret_cast<const int4*>(b), words32_at(b + 16), words32_at(b + 48 + 32 * ((s % 8) / 2))};
    }
    __device__ static Slice decode(const Raw& raw, int s) {
        const int j = s % 8;
        Slice r;
        int low[8], high[8];
        ints_of(raw.low.a, raw.low.b, low);
        ints_of(raw.high.a, raw.high.b, high);
        const int shift = 4 * (j & 1);
#pragma unroll
        for (int i = 0; i < 8; ++i) r.q[i] = ((low[i] >> shift) & 0x0f0f0f0f) | (((high[i] >> j) & 0x01010101) << 4);
        k4_scales(raw.head, j, r);
        return r;
    }
    __device__ static Slice load(const Row& row, int s) { return decode(fetch(row, s), s); }
};

// q6_k: 210-byte super-blocks: 128 bytes of low nibbles, 64 of top 2 bits, 16 signed 8-bit scales
// (one per 16 elements), f16 d; element = d * scale * (q - 32). In each half of 128 elements,
// element l + 32 * plane keeps its nibble in ql[64*half + l + 32*(plane&1)] (high nibble for
// planes 2-3) and its top bits in qh[32*half + l] at bit 2*plane. The body is the first 208
// bytes (ql, qh, scales), the tail d.
struct Q6_K {
    static constexpr int kSlicesPerBlock = 8, kBlockBytes = 210, kDepth = 2;
    static constexpr int kBodyAt = 0, kBodyBytes = 208, kTailAt = 208, kTailBytes = 2;
    struct Raw {
        Words32 low, high;
        uint32_t scales;  // the slice's two signed 8-bit scales
        uint32_t d;
    };
    __device__ static Raw fetch(const Row& row, int s) {
        const int block = s / 8, j = s % 8, half = j / 4, plane = j % 4;
        const uint8_t* b = row.body + block * kBodyBytes;
        return {words32_at(b + 64 * half + 32 * (plane & 1)), words32_at(b + 128 + 32 * half),
                *reinterpret_cast<const uint16_t*>(b + 192 + 2 * j), tail_bits(row, block)};
    }
    __device__ static Slice decode(const Raw& raw, int s) {
        const int plane = (s % 8) % 4;
        int low[8], high[8];
        ints_of(raw.low.a, raw.low.b, low);
        ints_of(raw.high.a, raw.high.b, high);
        const int low_shift = 4 * (plane >> 1), high_shift = 2 * plane;
        Slice r;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const int code = ((low[i] >> low_shift) & 0x0f0f0f0f) | (((high[i] >> high_shift) & 0x03030303) << 4);
            r.q[i] = int(__vsub4(unsigned(code), 0x20202020u));  // 0..63 - 32, per byte
        }
        const float d = half_from_bits(raw.d);
        r.scale[0] = d * float(int8_t(raw.scales & 0xff));
        r.scale[1] = d * float(int8_t(raw.scales >> 8));
        r.offset = 0.0f;
        return r;
    }
    __device__ static Slice load(const Row& row, int s) { return decode(fetch(row, s), s); }
};

// Code e of a slice, sign-extended.
__device__ __forceinline__ int code_at(const Slice& s, int e) {
    return int(int8_t(uint32_t(s.q[e / 4]) >> (8 * (e % 4))));
}

}  // namespace slm::cuda::slices
