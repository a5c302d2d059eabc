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

__device__ __forceinline__ float half_at(const uint8_t* p) {
    return __half2float(__ushort_as_half(*reinterpret_cast<const uint16_t*>(p)));
}

// Eight ints (32 bytes) at a 16-byte aligned address, as two 128-bit loads.
__device__ __forceinline__ void ints_at_a16(const uint8_t* p, int out[8]) {
    const int4 a = reinterpret_cast<const int4*>(p)[0], b = reinterpret_cast<const int4*>(p)[1];
    out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w;
    out[4] = b.x, out[5] = b.y, out[6] = b.z, out[7] = b.w;
}

// Each type's block: kBlockBytes in the file, its body (kBodyBytes from byte kBodyAt) and its
// tail (kTailBytes from byte kTailAt), and the 32-element slices a block holds.

// q4_0: 18-byte blocks of 32: f16 d, then 16 bytes holding elements j (low nibble) and j + 16
// (high nibble); element = d * (q - 8).
struct Q4_0 {
    static constexpr int kSlicesPerBlock = 1, kBlockBytes = 18;
    static constexpr int kBodyAt = 2, kBodyBytes = 16, kTailAt = 0, kTailBytes = 2;
    __device__ static Slice load(const Row& row, int s) {
        const int4 v = *reinterpret_cast<const int4*>(row.body + s * kBodyBytes);
        const int words[4] = {v.x, v.y, v.z, v.w};
        Slice r;
        const float d = half_at(row.tail + s * kTailBytes);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            r.q[i] = words[i] & 0x0f0f0f0f;
            r.q[4 + i] = (words[i] >> 4) & 0x0f0f0f0f;
        }
        r.scale[0] = r.scale[1] = d;
        r.offset = 8.0f * d;
        return r;
    }
};

// q8_0: 34-byte blocks of 32: f16 d, then 32 signed codes; element = d * q.
struct Q8_0 {
    static constexpr int kSlicesPerBlock = 1, kBlockBytes = 34;
    static constexpr int kBodyAt = 2, kBodyBytes = 32, kTailAt = 0, kTailBytes = 2;
    __device__ static Slice load(const Row& row, int s) {
        Slice r;
        ints_at_a16(row.body + s * kBodyBytes, r.q);
        const float d = half_at(row.tail + s * kTailBytes);
        r.scale[0] = r.scale[1] = d;
        r.offset = 0.0f;
        return r;
    }
};

// The 6-bit scale and minimum of sub-block j of a q4_k / q5_k super-block (12 bytes at q).
__device__ __forceinline__ void scale_min_k4(int j, const uint8_t* q, int& scale, int& min) {
    if (j < 4) {
        scale = q[j] & 63;
        min = q[j + 4] & 63;
    } else {
        scale = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// q4_k: 144-byte super-blocks of 256 (8 sub-blocks of 32): f16 d and dmin, 12 bytes of 6-bit
// scales/minimums, 128 bytes of nibbles (sub-block j: bytes 32*(j/2).., low nibble for even j);
// element = d * scale_j * q - dmin * min_j. Blocks are 16-byte aligned: 128-bit loads.
struct Q4_K {
    static constexpr int kSlicesPerBlock = 8, kBlockBytes = 144;
    static constexpr int kBodyAt = 0, kBodyBytes = 144, kTailAt = 0, kTailBytes = 0;
    __device__ static Slice load(const Row& row, int s) {
        const uint8_t* b = row.body + (s / 8) * kBlockBytes;
        const int j = s % 8;
        Slice r;
        int v[8];
        ints_at_a16(b + 16 + 32 * (j / 2), v);
        const int shift = 4 * (j & 1);
#pragma unroll
        for (int i = 0; i < 8; ++i) r.q[i] = (v[i] >> shift) & 0x0f0f0f0f;
        int sc, m;
        scale_min_k4(j, b + 4, sc, m);
        r.scale[0] = r.scale[1] = half_at(b) * float(sc);
        r.offset = half_at(b + 2) * float(m);
        return r;
    }
};

// q5_k: 176-byte super-blocks: q4_k's header, 32 bytes of fifth bits (element 32*j + l: bit j of
// byte l), then q4_k's nibbles; element = d * scale_j * q - dmin * min_j with q in 0..31.
struct Q5_K {
    static constexpr int kSlicesPerBlock = 8, kBlockBytes = 176;
    static constexpr int kBodyAt = 0, kBodyBytes = 176, kTailAt = 0, kTailBytes = 0;
    __device__ static Slice load(const Row& row, int s) {
        const uint8_t* b = row.body + (s / 8) * kBlockBytes;
        const int j = s % 8;
        Slice r;
        int low[8], high[8];
        ints_at_a16(b + 48 + 32 * (j / 2), low);
        ints_at_a16(b + 16, high);
        const int shift = 4 * (j & 1);
#pragma unroll
        for (int i = 0; i < 8; ++i) r.q[i] = ((low[i] >> shift) & 0x0f0f0f0f) | (((high[i] >> j) & 0x01010101) << 4);
        int sc, m;
        scale_min_k4(j, b + 4, sc, m);
        r.scale[0] = r.scale[1] = half_at(b) * float(sc);
        r.offset = half_at(b + 2) * float(m);
        return r;
    }
};

// q6_k: 210-byte super-blocks: 128 bytes of low nibbles, 64 of top 2 bits, 16 signed 8-bit scales
// (one per 16 elements), f16 d; element = d * scale * (q - 32). In each half of 128 elements,
// element l + 32 * plane keeps its nibble in ql[64*half + l + 32*(plane&1)] (high nibble for
// planes 2-3) and its top bits in qh[32*half + l] at bit 2*plane. The body is the first 208
// bytes (ql, qh, scales), the tail d.
struct Q6_K {
    static constexpr int kSlicesPerBlock = 8, kBlockBytes = 210;
    static constexpr int kBodyAt = 0, kBodyBytes = 208, kTailAt = 208, kTailBytes = 2;
    __device__ static Slice load(const Row& row, int s) {
        const int block = s / 8;
        const uint8_t* b = row.body + block * kBodyBytes;
        const int j = s % 8, half = j / 4, plane = j % 4;
        int low[8], high[8];
        ints_at_a16(b + 64 * half + 32 * (plane & 1), low);
        ints_at_a16(b + 128 + 32 * half, high);
        const int low_shift = 4 * (plane >> 1), high_shift = 2 * plane;
        Slice r;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const int code = ((low[i] >> low_shift) & 0x0f0f0f0f) | (((high[i] >> high_shift) & 0x03030303) << 4);
            r.q[i] = int(__vsub4(unsigned(code), 0x20202020u));  // 0..63 - 32, per byte
        }
        const float d = half_at(row.tail + block * kTailBytes);
        const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
        r.scale[0] = d * float(scales[2 * j]);
        r.scale[1] = d * float(scales[2 * j + 1]);
        r.offset = 0.0f;
        return r;
    }
};

// Code e of a slice, sign-extended.
__device__ __forceinline__ int code_at(const Slice& s, int e) {
    return int(int8_t(uint32_t(s.q[e / 4]) >> (8 * (e % 4))));
}

}  // namespace slm::cuda::slices
