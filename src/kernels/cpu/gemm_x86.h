// The x86 GEMM for prompts and for interleaved8 weights at any token count (see gemm.h), compiled
// once per instruction-set level: gemm_avx2.cpp and gemm_avx512.cpp each define
// SLM_GEMM_X86_AVX512 (0 or 1), include this, and export this_level_gemms() under their level's
// name. The target pragma below applies to the rest of the including translation unit; every
// non-intrinsic header comes before it (see row_dot_avx2.cpp).
// Weight rows are unpacked 8 at a time into PanelBlocks whose ymm lanes are the 8 rows, so a
// broadcast of 4 activation bytes meets 4 elements of all 8 rows in one instruction and the int32
// / f32 lanes end as 8 outputs of one token: no horizontal sums, and each block's scales apply
// with one vector multiply-add per (8 rows, token) instead of per row.
//   kVnni = false (AVX2): u8 x s8 products by vpmaddubsw, pairs summed in int16 for kWiden steps
//     (as many as cannot overflow it), then widened to int32 by vpmaddwd.
//   kVnni = true (AVX-512 VNNI, ymm through AVX512VL): vpdpbusd multiplies and sums 4 products
//     per lane straight into int32, one instruction per step and token where AVX2 takes two or
//     three; q8_0's signed codes are then stored offset by +128 (unsigned) and the offset comes
//     back through the activation sums, as q4_0's -8 does, instead of vpsign per token. One-token
//     decode runs on zmm (activation_pair below).
// Internal linkage throughout: each level's translation unit has its own copies.
#pragma once

#if !defined(SLM_GEMM_X86_AVX512)
#error "define SLM_GEMM_X86_AVX512 (0 or 1) before including gemm_x86.h"
#endif

#include "kernels/cpu/block32_formats.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/interleaved_rows.h"
#include "kernels/cpu/kquant_scales.h"
#include "kernels/cpu/scratch.h"
#include "quant/blocks.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#if SLM_GEMM_X86_AVX512
// GCC 12's AVX-512 intrinsics start from self-initialized "undefined" vectors, which
// -Wmaybe-uninitialized reports at every use.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#else
#pragma GCC target("avx2,fma,f16c")
#endif
#include <immintrin.h>

#include "kernels/cpu/block32_codes_avx2.h"

namespace slm::kernels {
namespace {

constexpr bool kVnni = SLM_GEMM_X86_AVX512;
constexpr int kPanelRows = 8;  // one ymm of 32-bit lanes
constexpr int kSteps = 8;      // 4 elements per step, 32 per block
// Packed panels of a row tile stay in L2 (512 KiB per Zen 3 core) while token groups sweep them.
constexpr size_t kPanelBudgetBytes = size_t(256) << 10;

// One 32-element block of 8 weight rows: codes[s] holds elements 4s..4s+3 of row r at bytes
// 4r..4r+3. Row r's element in scale group g (steps [g * 8 / kGroups, (g + 1) * 8 / kGroups)) is
// scale[g][r] * code + offset[r].
template <int kGroups>
struct alignas(32) PanelBlock {
    uint8_t codes[kSteps][32];
    float scale[kGroups][kPanelRows];
    float offset[kPanelRows];
};
static_assert(sizeof(PanelBlock<1>) == 320 && sizeof(PanelBlock<2>) == 352);

// What the packer and the microkernel need of a weight type, as 32-element sub-blocks:
//   Block, kSubBlocks (32-element sub-blocks per Block), kGroups (scale groups per sub-block),
//   kSignedCodes (codes go through vpsign; no offset), kWiden (steps whose vpmaddubsw sums fit
//   int16: 2 * max|code| * 127 per step, <= 32767), and
//   sub_block(block, j, scales[kGroups], &offset) -> the 32 codes of sub-block j.
// With VNNI, int8 codes (q8_0) are stored + 128, unsigned, their offset -128 d (see the top).
template <typename Format>
constexpr bool kBiasedInt8 = kVnni && Format::kCodes == Codes::int8;

template <typename Format>
struct Block32Source {
    using Block = typename Format::Block;
    static constexpr int kSubBlocks = 1, kGroups = 1;
    static constexpr bool kSignedCodes = Format::kSignedCodes && !kBiasedInt8<Format>;
    // 4-bit codes: 3810 per step; 5-bit: 7874; signed (up to 127): 32512.
    static constexpr int kWiden = kSignedCodes ? 1 : Format::kCodes == Codes::nibbles_fifth_bit ? 4 : 8;
    static __m256i sub_block(const Block& b, int, float* scale, float* offset) {
        scale[0] = half_to_float(b.d);
        if constexpr (kBiasedInt8<Format>) {
            *offset = -128.0f * scale[0];
            return _mm256_xor_si256(load_codes<Format>(b), _mm256_set1_epi8(char(0x80)));
        }
        *offset = block_offset<Format>(b, scale[0]);
        return load_codes<Format>(b);
    }
};

// q4_k / q5_k sub-block j: nibbles of qs[32 * (j / 2)...] (low for even j), plus bit j of qh[l]
// for q5_k; element = d * scale_j * code - dmin * min_j.
template <typename BlockT, bool kFifthBit>
struct Q45KSource {
    using Block = BlockT;
    static constexpr int kSubBlocks = 8, kGroups = 1, kWiden = kFifthBit ? 4 : 8;
    static constexpr bool kSignedCodes = false;
    static __m256i sub_block(const Block& b, int j, float* scale, float* offset) {
        uint8_t sc, min;
        kquant_scale_min(j, b.scales, &sc, &min);
        scale[0] = half_to_float(b.d) * float(sc);
        *offset = -half_to_float(b.dmin) * float(min);
        const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * (j / 2)));
        __m256i codes = _mm256_and_si256(_mm256_srli_epi16(bytes, 4 * (j % 2)), _mm256_set1_epi8(0x0f));
        if constexpr (kFifthBit) {
            const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh));
            codes = _mm256_or_si256(codes, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, j), _mm256_set1_epi8(1)), 4));
        }
        return codes;
    }
};

// q6_k sub-block j = 32 * part + 128 * half: low nibble from ql, two high bits from qh, minus 32
// (signed codes -32..31); two 16-element scale groups per sub-block.
struct Q6KSource {
    using Block = quant::BlockQ6_K;
    static constexpr int kSubBlocks = 8, kGroups = 2, kWiden = 4;  // |code| <= 32: 8128 per step
    static constexpr bool kSignedCodes = true;
    static __m256i sub_block(const Block& b, int j, float* scale, float* offset) {
        const int half = j / 4, part = j % 4;
        const float d = half_to_float(b.d);
        scale[0] = d * float(b.scales[8 * half + 2 * part]);
        scale[1] = d * float(b.scales[8 * half + 2 * part + 1]);
        *offset = 0;
        const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * half + 32 * (part % 2)));
        const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * half));
        const __m256i nibble = _mm256_and_si256(_mm256_srli_epi16(low, 4 * (part / 2)), _mm256_set1_epi8(0x0f));
        const __m256i top = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 2 * part), _mm256_set1_epi8(3)), 4);
        return _mm256_sub_epi8(_mm256_or_si256(nibble, top), _mm256_set1_epi8(32));
    }
};

// Rows [0, rows) of 8 (rows < 8 pads with zero rows), all nb 32-element blocks, into panel[0..nb).
template <typename Source>
void pack_panel(const uint8_t* w, size_t w_stride, int rows, int64_t nb, PanelBlock<Source::kGroups>* panel) {
    using Block = typename Source::Block;
    for (int64_t b = 0; b < nb; ++b) {
        alignas(32) uint32_t by_row[kPanelRows][kSteps] = {};
        auto& out = panel[b];
        for (int r = 0; r < kPanelRows; ++r) {
            float scale[Source::kGroups] = {}, offset = 0;
            if (r < rows) {
                const Block& blk = reinterpret_cast<const Block*>(w + size_t(r) * w_stride)[b / Source::kSubBlocks];
                const __m256i codes = Source::sub_block(blk, int(b % Source::kSubBlocks), scale, &offset);
                _mm256_store_si256(reinterpret_cast<__m256i*>(by_row[r]), codes);
            }
            for (int g = 0; g < Source::kGroups; ++g) out.scale[g][r] = scale[g];
            out.offset[r] = offset;
        }
        for (int s = 0; s < kSteps; ++s)
            for (int r = 0; r < kPanelRows; ++r) std::memcpy(&out.codes[s][4 * r], &by_row[r][s], 4);
    }
}

// How the microkernel reads a panel of 8 rows in 32-element blocks, the rows in the 8 lanes:
//   Block, kSubBlocks = 1 (32-element blocks per Block; the super-block panels below have 8);
//   kGroups, kWiden, kSignedCodes (as in Block32Source); codes(block, i): the codes of 4-element
//   step kStep[i] (activation bytes 4 kStep[i] .. +3), i < 8, in an order that keeps each scale
//   group's steps together; scale(block, g): the rows' scales of group g; offset(block): the rows'
//   offsets (unsigned codes only); kPrefetchAhead: how many bytes ahead of the block being read to
//   prefetch (0: none).
// A panel packed from row-layout weights (pack_panel) or from interleaved ones (from_interleaved),
// in L2 already:
template <typename Source>
struct PackedPanel {
    using Block = PanelBlock<Source::kGroups>;
    static constexpr int kSubBlocks = 1, kGroups = Source::kGroups, kWiden = Source::kWiden;
    static constexpr bool kSignedCodes = Source::kSignedCodes;
    static constexpr int kStep[kSteps] = {0, 1, 2, 3, 4, 5, 6, 7};
    static constexpr size_t kPrefetchAhead = 0;
    static __m256i codes(const Block& p, int i) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p.codes[i])); }
    static __m256 scale(const Block& p, int g) { return _mm256_load_ps(p.scale[g]); }
    static __m256 offset(const Block& p) { return _mm256_load_ps(p.offset); }
    // An interleaved panel's n blocks (Source: one of the panels below) as packed blocks: the same
    // codes, scales and offsets, computed once for all the token groups of a prompt.
    static void from_interleaved(const typename Source::Block* in, int64_t n, Block* out) {
        for (int64_t b = 0; b < n; ++b) {
            for (int i = 0; i < kSteps; ++i)
                _mm256_store_si256(reinterpret_cast<__m256i*>(out[b].codes[Source::kStep[i]]), Source::codes(in[b], i));
            for (int g = 0; g < kGroups; ++g) _mm256_store_ps(out[b].scale[g], Source::scale(in[b], g));
            _mm256_store_ps(out[b].offset, Source::offset(in[b]));
        }
    }
};

// Interleaved8 weights read in place (interleaved_rows.h), as they stream from memory: a
// prefetch ahead keeps more lines in flight than the hardware prefetcher does. AVX2, Zen 3: 2 KiB
// (q4_0 2048x5632, one token, one thread: 0.51-0.69 -> 0.41-0.53 ms; 1, 4 and 16 KiB no better).
// AVX-512, Zen 5 at ~70 GB/s: 4 KiB (ymm VNNI kernels, ffn_up 5632x2048, one token, two
// threads, medians of 7, two alternations: q4_0 40-41 -> 46-47 GB/s, q6_k 41-42 -> 46-47, q8_0
// 45 -> 49-50, q4_k 42 -> 43-45).
// The 32-element panels compute the same scales and offsets, in the same order, as their
// Block32Source for the row layout's packed panels: both layouts give the same values bit for bit.
constexpr size_t kStreamPrefetchAhead = kVnni ? 4096 : 2048;

// What the interleaved panels share: steps in element order unless a panel says otherwise, and
// the stream prefetch.
struct InterleavedPanel {
    static constexpr int kSubBlocks = 1;
    static constexpr int kStep[kSteps] = {0, 1, 2, 3, 4, 5, 6, 7};
    static constexpr size_t kPrefetchAhead = kStreamPrefetchAhead;
};

inline __m256 half_lanes(const uint16_t* h) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h))); }
// Shift counts below are constants once the sub-block loop is unrolled (immediate shifts).
inline __m256i nibbles_at(__m256i bytes, int high) {
    return _mm256_and_si256(_mm256_srli_epi16(bytes, 4 * high), _mm256_set1_epi8(0x0f));
}

#if SLM_GEMM_X86_AVX512
// One token's decode on zmm: a panel's `codes_pair(block, ..., s)` gives steps s and s + 1 (s
// even) of the 8 rows, step s in the low 256 bits and s + 1 in the high, the layout's 4-byte
// slices two at a time (one 64-byte load where the ymm path takes two). Against it, the 32
// activation bytes of the (sub-)block in both halves, lanes 0-7 and 8-15 permuted to steps s and
// s + 1. Half the vpdpbusd and code unpacking of ymm, for one vpermd per pair: one core
// computes 46 -> 57 GB/s on q4_k from L2 (256x2048). The halves fold before the scales apply.
inline __m512i nibbles_at(__m512i bytes, int high) {
    return _mm512_and_si512(_mm512_srli_epi16(bytes, 4 * high), _mm512_set1_epi8(0x0f));
}
inline __m512i load_pair(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline __m512i activation_halves(const int8_t* qs) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs)));
}
inline __m512i activation_pair(__m512i halves, int s) {
    return _mm512_permutexvar_epi32(_mm512_set_epi32(s + 1, s + 1, s + 1, s + 1, s + 1, s + 1, s + 1, s + 1, s, s, s, s, s, s, s, s),
                                    halves);
}
inline __m256i fold_halves(__m512i v) { return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)); }

// The int32 sums of steps [first, last) (pairs; two chains), folded to the 8 rows.
template <typename CodesPair>
inline __m256i pairs_dot(__m512i halves, int first, int last, CodesPair&& codes_pair) {
    __m512i chain[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
#pragma GCC unroll 4
    for (int s = first; s < last; s += 2)
        chain[(s / 2) % 2] = _mm512_dpbusd_epi32(chain[(s / 2) % 2], codes_pair(s), activation_pair(halves, s));
    return fold_halves(_mm512_add_epi32(chain[0], chain[1]));
}

template <typename Panel>
concept HasCodePairs = requires(const typename Panel::Block& b) { Panel::codes_pair(b, 0); };
template <typename Panel>
concept HasSubBlockCodePairs = requires(const typename Panel::Block& b) { Panel::codes_pair(b, 0, 0); };
#endif

// q4_0 and q5_0: slice j holds step j in its low nibbles and step j + 4 in its high ones (step s
// is elements 4s..4s+3 either way). q5_0 adds bits 4s..4s+3 of each row's fifth-bit word as 0x10
// in the step's 4 bytes: the word's byte s / 2 copied to all four bytes of its lane, each testing
// its own bit.
template <typename BlockT, typename Format>
struct Nibbles32x8Panel : InterleavedPanel {
    using Block = BlockT;
    static constexpr bool kFifthBit = Format::kCodes == Codes::nibbles_fifth_bit;
    static constexpr int kGroups = 1, kWiden = kFifthBit ? 4 : 8;
    static constexpr bool kSignedCodes = false;
    static constexpr int kStep[kSteps] = {0, 4, 1, 5, 2, 6, 3, 7};
    static __m256i codes(const Block& g, int i) {
        const __m256i nibbles = nibbles_at(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.qs + 32 * (i / 2))), i % 2);
        if constexpr (!kFifthBit) {
            return nibbles;
        } else {
            const int s = kStep[i];
            const __m256i words = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.qh));
            const int8_t k = int8_t(s / 2);
            const __m256i byte_of_lane = _mm256_setr_epi8(k, k, k, k, 4 + k, 4 + k, 4 + k, 4 + k, 8 + k, 8 + k, 8 + k, 8 + k, 12 + k, 12 + k, 12 + k, 12 + k,
                                                          k, k, k, k, 4 + k, 4 + k, 4 + k, 4 + k, 8 + k, 8 + k, 8 + k, 8 + k, 12 + k, 12 + k, 12 + k, 12 + k);
            const __m256i bit = _mm256_set1_epi32(int(0x08040201u << (4 * (s % 2))));
            const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(words, byte_of_lane), bit), bit);
            return _mm256_or_si256(nibbles, _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
        }
    }
#if SLM_GEMM_X86_AVX512
    // Steps s, s + 1: the low (s < 4) or high nibbles of slices s % 4, s % 4 + 1.
    static __m512i codes_pair(const Block& g, int s) requires(!kFifthBit) { return nibbles_at(load_pair(g.qs + 32 * (s % 4)), s / 4); }
#endif
    static __m256 scale(const Block& g, int) { return half_lanes(g.d); }
    // The centre of the codes, as Block32Source's offset: kCodeOffset d (exact).
    static __m256 offset(const Block& g) { return _mm256_mul_ps(half_lanes(g.d), _mm256_set1_ps(float(Format::kCodeOffset))); }
};
using Q4_0x8Panel = Nibbles32x8Panel<BlockQ4_0x8, Q4_0Format>;
using Q5_0x8Panel = Nibbles32x8Panel<BlockQ5_0x8, Q5_0Format>;

// Signed codes, or with VNNI + 128 and the offset -128 d (as Block32Source<Q8_0Format>).
struct Q8_0x8Panel : InterleavedPanel {
    using Block = BlockQ8_0x8;
    static constexpr int kGroups = 1, kWiden = 1;
    static constexpr bool kSignedCodes = !kBiasedInt8<Q8_0Format>;
    static __m256i codes(const Block& g, int i) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.qs + 32 * i));
        return kSignedCodes ? q : _mm256_xor_si256(q, _mm256_set1_epi8(char(0x80)));
    }
#if SLM_GEMM_X86_AVX512
    static __m512i codes_pair(const Block& g, int s) { return _mm512_xor_si512(load_pair(g.qs + 32 * s), _mm512_set1_epi8(char(0x80))); }
#endif
    static __m256 scale(const Block& g, int) { return half_lanes(g.d); }
    static __m256 offset(const Block& g) {
        return kSignedCodes ? _mm256_setzero_ps() : _mm256_mul_ps(half_lanes(g.d), _mm256_set1_ps(-128.0f));
    }
};

// The k-quants' interleaved panels meet activations in ActFormat::q8_256 (one scale per 256
// elements, as llama.cpp's q8_K): with one activation scale for the whole super-block, each
// sub-block's integer sums are weighted by its integer scale (vpmaddwd) and the super-block ends
// with two float multiply-adds per token, where q8_32 activations needed float work for each
// 32 elements (one token, one thread, 256x2048 in L2: q4_k 22.9 -> 28.6 GB/s, q6_k 17.3 -> 26.0;
// from memory both stay at what one core streams). The offsets (q4_k's mins, q6_k's 32) come from
// the activations' sums per 16, in integers too:
//   y_r = act_d (d_r sum_j scale_jr codes_j . act_j - bias_d_r sum_j bias_jr . (bsums_2j, bsums_2j+1)).
// What a super-block panel gives the microkernel, per Block of 8 rows x 256 elements
// (kSubBlocks = 8 sub-blocks of 32):
//   Scales, scales(block): what codes' weights need from the block, unpacked once;
//   codes(block, j, i): the unsigned codes of step i (activation bytes 32 j + 4 i .. +3);
//   kWiden: steps whose vpmaddubsw sums fit int16 (2 * max code * 127 per step);
//   kGroups: scale groups per 32-element sub-block; weight(block, scales, j, g): lane r: row r's
//   scale of group g of sub-block j in both int16 halves;
//   bias(block, scales, j): lane r: row r's int16 pair meeting (bsums[2j], bsums[2j + 1]);
//   d(block), bias_d(block): the rows' float factors of the two sums.
struct SuperBlockPanel {
    static constexpr int kSubBlocks = 8;
    static constexpr size_t kPrefetchAhead = kStreamPrefetchAhead;
};

// Lane r: byte k of lane r of v, zero-extended, in both 16-bit halves (k < 4).
inline __m256i byte_pairs(__m256i v, int k) {
    const char z = char(0x80);
    const char a = char(k), b = char(4 + k), c = char(8 + k), e = char(12 + k);
    return _mm256_shuffle_epi8(v, _mm256_setr_epi8(a, z, a, z, b, z, b, z, c, z, c, z, e, z, e, z,
                                                   a, z, a, z, b, z, b, z, c, z, c, z, e, z, e, z));
}

// q4_k sub-block j: nibbles (low for even j) of slices 8 (j / 2) .. +7. The 6-bit scales and mins
// of all 8 sub-blocks and 8 rows: four vectors of bytes (sub-block j in byte j % 4 of lane r).
struct Q4_Kx8Panel : SuperBlockPanel {
    using Block = BlockQ4_Kx8;
    static constexpr int kWiden = 8, kGroups = 1;  // 4-bit codes: 3810 per step
    struct Scales {
        __m256i scale[2], min[2];  // [j / 4]
    };
    static Scales scales(const Block& g) {
        auto word = [&](int w) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.scale_words[w])); };
        const __m256i w0 = word(0), w1 = word(1), w2 = word(2);
        const __m256i six = _mm256_set1_epi8(0x3f), low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
        // Sub-blocks 4..7: low 4 bits from word 2, the top two from bits 6..7 of words 0 / 1.
        return {{_mm256_and_si256(w0, six),
                 _mm256_or_si256(_mm256_and_si256(w2, low4), _mm256_and_si256(_mm256_srli_epi32(w0, 2), bits45))},
                {_mm256_and_si256(w1, six),
                 _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(w2, 4), low4), _mm256_and_si256(_mm256_srli_epi32(w1, 2), bits45))}};
    }
    static __m256i codes(const Block& g, int j, int i) {
        return nibbles_at(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.qs + 256 * (j / 2) + 32 * i)), j % 2);
    }
#if SLM_GEMM_X86_AVX512
    static __m512i codes_pair(const Block& g, int j, int s) { return nibbles_at(load_pair(g.qs + 256 * (j / 2) + 32 * s), j % 2); }
#endif
    static __m256i weight(const Block&, const Scales& s, int j, int) { return byte_pairs(s.scale[j / 4], j % 4); }
    static __m256i bias(const Block&, const Scales& s, int j) { return byte_pairs(s.min[j / 4], j % 4); }
    static __m256 d(const Block& g) { return half_lanes(g.d); }
    static __m256 bias_d(const Block& g) { return half_lanes(g.dmin); }
};

// q6_k sub-block j = 4 half + part: low nibbles of ql slices 16 half + 8 (part % 2) .. +7 (high
// nibbles for part >= 2) and two bits of qh slices 8 half .. +7: codes 0..63 standing for
// code - 32, the 32 taken off through the activation sums (bias 32 x each group's scale).
struct Q6_Kx8Panel : SuperBlockPanel {
    using Block = BlockQ6_Kx8;
    static constexpr int kWiden = 2, kGroups = 2;  // 6-bit codes: 16002 per step
    struct Scales {};
    static Scales scales(const Block&) { return {}; }
    static __m256i codes(const Block& g, int j, int i) {
        const int half = j / 4, part = j % 4;
        const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.ql + 32 * (16 * half + 8 * (part % 2) + i)));
        const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.qh + 32 * (8 * half + i)));
        // Bits 2 part, 2 part + 1 of each qh byte to bits 4, 5.
        const __m256i shifted = part < 2 ? _mm256_slli_epi16(high, 4 - 2 * part) : _mm256_srli_epi16(high, 2 * part - 4);
        return _mm256_or_si256(nibbles_at(low, part / 2), _mm256_and_si256(shifted, _mm256_set1_epi8(0x30)));
    }
#if SLM_GEMM_X86_AVX512
    static __m512i codes_pair(const Block& g, int j, int s) {
        const int half = j / 4, part = j % 4;
        const __m512i low = load_pair(g.ql + 32 * (16 * half + 8 * (part % 2) + s));
        const __m512i high = load_pair(g.qh + 32 * (8 * half + s));
        const __m512i shifted = part < 2 ? _mm512_slli_epi16(high, 4 - 2 * part) : _mm512_srli_epi16(high, 2 * part - 4);
        return _mm512_or_si512(nibbles_at(low, part / 2), _mm512_and_si512(shifted, _mm512_set1_epi8(0x30)));
    }
#endif
    // Lane r: row r's scales 2j and 2j + 1 as int16.
    static __m256i pairs(const Block& g, int j) {
        return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g.scale_pairs[j])));
    }
    static __m256i weight(const Block& g, const Scales&, int j, int group) {
        const char a = char(2 * group), b = char(2 * group + 1);
        return _mm256_shuffle_epi8(pairs(g, j), _mm256_setr_epi8(a, b, a, b, 4 + a, 4 + b, 4 + a, 4 + b, 8 + a, 8 + b, 8 + a, 8 + b,
                                                                 12 + a, 12 + b, 12 + a, 12 + b, a, b, a, b, 4 + a, 4 + b, 4 + a, 4 + b,
                                                                 8 + a, 8 + b, 8 + a, 8 + b, 12 + a, 12 + b, 12 + a, 12 + b));
    }
    static __m256i bias(const Block& g, const Scales&, int j) { return pairs(g, j); }
    static __m256 d(const Block& g) { return half_lanes(g.d); }
    static __m256 bias_d(const Block& g) { return _mm256_mul_ps(half_lanes(g.d), _mm256_set1_ps(32.0f)); }
};

// A super-block panel unpacked once for all the token groups of a prompt: codes as bytes, the
// sub-blocks' weight and bias vectors, d and bias_d as floats: the same values the panel gives in
// place, so both give the same outputs bit for bit.
template <int kGroups>
struct alignas(32) SuperBlockPack {
    uint8_t codes[SuperBlockPanel::kSubBlocks][kSteps][32];
    __m256i weight[SuperBlockPanel::kSubBlocks][kGroups];
    __m256i bias[SuperBlockPanel::kSubBlocks];
    float d[kPanelRows], bias_d[kPanelRows];
};

template <typename Source>
struct PackedSuperBlockPanel : SuperBlockPanel {
    using Block = SuperBlockPack<Source::kGroups>;
    static constexpr int kWiden = Source::kWiden, kGroups = Source::kGroups;
    static constexpr size_t kPrefetchAhead = 0;  // in L2 already
    struct Scales {};
    static Scales scales(const Block&) { return {}; }
    static __m256i codes(const Block& p, int j, int i) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p.codes[j][i])); }
    static __m256i weight(const Block& p, const Scales&, int j, int group) { return p.weight[j][group]; }
    static __m256i bias(const Block& p, const Scales&, int j) { return p.bias[j]; }
    static __m256 d(const Block& p) { return _mm256_load_ps(p.d); }
    static __m256 bias_d(const Block& p) { return _mm256_load_ps(p.bias_d); }
    // As PackedPanel::from_interleaved, for n super-blocks.
    static void from_interleaved(const typename Source::Block* in, int64_t n, Block* out) {
        for (int64_t b = 0; b < n; ++b) {
            const typename Source::Scales scales = Source::scales(in[b]);
#pragma GCC unroll 8
            for (int j = 0; j < kSubBlocks; ++j) {
                for (int i = 0; i < kSteps; ++i)
                    _mm256_store_si256(reinterpret_cast<__m256i*>(out[b].codes[j][i]), Source::codes(in[b], j, i));
                for (int group = 0; group < kGroups; ++group) out[b].weight[j][group] = Source::weight(in[b], scales, j, group);
                out[b].bias[j] = Source::bias(in[b], scales, j);
            }
            _mm256_store_ps(out[b].d, Source::d(in[b]));
            _mm256_store_ps(out[b].bias_d, Source::bias_d(in[b]));
        }
    }
};

// Lanes [0, rows) of acc[t] to y + t * y_stride.
template <int Tt>
void store_lanes(const __m256* acc, int rows, float* y, int64_t y_stride) {
    for (int t = 0; t < Tt; ++t) {
        if (rows == kPanelRows) {
            _mm256_storeu_ps(y + t * y_stride, acc[t]);
        } else {
            alignas(32) float lanes[kPanelRows];
            _mm256_store_ps(lanes, acc[t]);
            std::memcpy(y + t * y_stride, lanes, size_t(rows) * sizeof(float));
        }
    }
}

// acc + (the rows' scales x the token's activation scale) x the group's int32 sums.
inline __m256 add_scaled(__m256 acc, __m256 scale, const float& act_d, __m256i sum) {
    return _mm256_fmadd_ps(_mm256_mul_ps(scale, _mm256_broadcast_ss(&act_d)), _mm256_cvtepi32_ps(sum), acc);
}

// y[t * y_stride + r] for r < rows, t < Tt: the 8-row panel times Tt activation rows. Each
// token's lanes are summed in the same order whatever Tt.
template <typename Panel, int Tt>
void panel_times_tokens(const typename Panel::Block* panel, int64_t nb, const uint8_t* x, size_t x_stride, int rows,
                        float* y, int64_t y_stride) {
    static_assert(Panel::kSubBlocks == 1);
    constexpr int kWiden = Panel::kWiden, kGroupSteps = kSteps / Panel::kGroups;
    static_assert(kGroupSteps % kWiden == 0);
    const ActBlock32* xt[Tt];
    __m256 acc[Tt];
    // Unrolled by pragma: as a loop GCC zeroed acc with a call to memset (4% of a small model's
    // prompt time, at 10 blocks per call).
#pragma GCC unroll 6
    for (int t = 0; t < Tt; ++t) xt[t] = reinterpret_cast<const ActBlock32*>(x + size_t(t) * x_stride), acc[t] = _mm256_setzero_ps();
    // The blocks' offsets: with VNNI in a chain of their own (32 registers), added at the end, so
    // that one token's chain is one multiply-add per block, not two (q4_0 decode was bound by
    // that latency); on AVX2 (16 registers, 6 tokens) into acc itself.
    constexpr bool kSeparateOffsets = kVnni;
    __m256 offset_acc_storage[kSeparateOffsets ? Tt : 1];
    __m256* offset_acc = kSeparateOffsets ? offset_acc_storage : acc;
    if constexpr (kSeparateOffsets)
#pragma GCC unroll 6
        for (int t = 0; t < Tt; ++t) offset_acc[t] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; ++b) {
        const auto& p = panel[b];
        if constexpr (Panel::kPrefetchAhead > 0)
            for (size_t line = 0; line < sizeof(p); line += 64)
                _mm_prefetch(reinterpret_cast<const char*>(&p) + Panel::kPrefetchAhead + line, _MM_HINT_T0);
#if SLM_GEMM_X86_AVX512
        if constexpr (Tt == 1 && HasCodePairs<Panel>) {
            static_assert(Panel::kGroups == 1 && !Panel::kSignedCodes);
            const __m256i sum = pairs_dot(activation_halves(xt[0][b].qs), 0, kSteps, [&](int s) { return Panel::codes_pair(p, s); });
            acc[0] = add_scaled(acc[0], Panel::scale(p, 0), xt[0][b].d, sum);
            offset_acc[0] = _mm256_fmadd_ps(Panel::offset(p), _mm256_broadcast_ss(&xt[0][b].sum), offset_acc[0]);
            continue;
        }
#endif
        __m256i sum16[Tt], sum32[Tt];
        [[maybe_unused]] __m256i sum32_odd[Tt];  // VNNI: the odd steps' chain
        for (int t = 0; t < Tt; ++t) sum16[t] = sum32[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int i = 0; i < kSteps; ++i) {
            const int s = Panel::kStep[i];
            const __m256i w = Panel::codes(p, i);
            __m256i w_unsigned = w;
            if constexpr (Panel::kSignedCodes) w_unsigned = _mm256_sign_epi8(w, w);
            for (int t = 0; t < Tt; ++t) {
                int32_t four;
                std::memcpy(&four, xt[t][b].qs + 4 * s, 4);
                __m256i a = _mm256_set1_epi32(four);
                if constexpr (Panel::kSignedCodes) a = _mm256_sign_epi8(a, w);
                if constexpr (kVnni) {
                    // Two chains, even and odd steps (as in super_blocks_times_tokens).
                    __m256i& chain = i % 2 == 0 ? sum32[t] : sum32_odd[t];
                    chain = _mm256_dpbusd_epi32(i % kGroupSteps < 2 ? _mm256_setzero_si256() : chain, w_unsigned, a);
                    if (i % kGroupSteps == kGroupSteps - 1)
                        acc[t] = add_scaled(acc[t], Panel::scale(p, i / kGroupSteps), xt[t][b].d, _mm256_add_epi32(sum32[t], sum32_odd[t]));
                    continue;
                }
                const __m256i prod = _mm256_maddubs_epi16(w_unsigned, a);
                sum16[t] = i % kWiden == 0 ? prod : _mm256_add_epi16(sum16[t], prod);
                // Keeps unsigned codes' sums in step order: GCC otherwise reassociates them into a
                // tree whose pending products spill to the stack (a store and a load per
                // vpmaddubsw). For signed codes the barrier measured slower (row-layout q6_k 41 -> 59
                // ms); their int32 sums take it instead (below).
                if constexpr (!Panel::kSignedCodes) asm("" : "+x"(sum16[t]));
                if (i % kWiden == kWiden - 1) {
                    const __m256i wide = _mm256_madd_epi16(sum16[t], ones);
                    sum32[t] = i % kGroupSteps == kWiden - 1 ? wide : _mm256_add_epi32(sum32[t], wide);
                    // Signed codes widen often (q8_0 every step), and GCC stored each product to
                    // the stack to sum them as a tree: q8_0 ffn_up T512 134-138 -> 119-124 ms with
                    // this barrier; row-layout q6_k (every 4 steps) 103-106 -> 101-102 ms.
                    if constexpr (Panel::kSignedCodes) asm("" : "+x"(sum32[t]));
                }
                if (i % kGroupSteps == kGroupSteps - 1) acc[t] = add_scaled(acc[t], Panel::scale(p, i / kGroupSteps), xt[t][b].d, sum32[t]);
            }
        }
        if constexpr (!Panel::kSignedCodes) {
            const __m256 offset = Panel::offset(p);
            for (int t = 0; t < Tt; ++t) offset_acc[t] = _mm256_fmadd_ps(offset, _mm256_broadcast_ss(&xt[t][b].sum), offset_acc[t]);
        }
    }
    if constexpr (kSeparateOffsets)
        for (int t = 0; t < Tt; ++t) acc[t] = _mm256_add_ps(acc[t], offset_acc[t]);
    store_lanes<Tt>(acc, rows, y, y_stride);
}

// y[t * y_stride + r] for r < rows, t < Tt: a super-block panel (see SuperBlockPanel) of 8 rows
// times Tt activation rows in q8_256. Each token's sums run in the same order whatever Tt. Not
// inlined: inlined beside its 5 many-token variants, the one-token code streamed q6_k from memory
// at 11.5 GB/s instead of 16 (one thread, 5632x2048), though it ran as fast from L2.
template <typename Panel, int Tt>
__attribute__((noinline)) void super_blocks_times_tokens(const typename Panel::Block* panel, int64_t n_super,
                                                        const uint8_t* x, size_t x_stride, int rows, float* y,
                                                        int64_t y_stride) {
    constexpr int kSubBlocks = Panel::kSubBlocks, kGroupSteps = kSteps / Panel::kGroups, kWiden = Panel::kWiden;
    static_assert(kGroupSteps % kWiden == 0);
    constexpr size_t kSubBlockBytes = sizeof(typename Panel::Block) / kSubBlocks;
    const ActBlock256* xt[Tt];
    __m256 acc[Tt];
    // Unrolled by pragma: as a loop GCC zeroed acc with a call to memset (4% of a small model's
    // prompt time, at 10 blocks per call).
#pragma GCC unroll 6
    for (int t = 0; t < Tt; ++t) xt[t] = reinterpret_cast<const ActBlock256*>(x + size_t(t) * x_stride), acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_super; ++b) {
        const auto& g = panel[b];
        const typename Panel::Scales scales = Panel::scales(g);
        __m256i sum[Tt], bias[Tt];
        for (int t = 0; t < Tt; ++t) sum[t] = bias[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int j = 0; j < kSubBlocks; ++j) {
            if constexpr (Panel::kPrefetchAhead > 0)
                for (size_t line = 0; line < kSubBlockBytes; line += 64)
                    _mm_prefetch(reinterpret_cast<const char*>(&g) + j * kSubBlockBytes + Panel::kPrefetchAhead + line, _MM_HINT_T0);
#pragma GCC unroll 2
            for (int group = 0; group < Panel::kGroups; ++group) {
                const __m256i weight = Panel::weight(g, scales, j, group);
#if SLM_GEMM_X86_AVX512
                if constexpr (Tt == 1 && HasSubBlockCodePairs<Panel>) {
                    const __m256i folded = pairs_dot(activation_halves(xt[0][b].qs + 32 * j), group * kGroupSteps,
                                                     (group + 1) * kGroupSteps, [&](int s) { return Panel::codes_pair(g, j, s); });
                    sum[0] = _mm256_add_epi32(sum[0], _mm256_mullo_epi32(folded, _mm256_srai_epi32(weight, 16)));
                    asm("" : "+v"(sum[0]));  // in order (below)
                    continue;
                }
#endif
                if constexpr (kVnni) {
                    // The group's int32 sums in two chains (even and odd steps: the vpdpbusd
                    // latency would otherwise bound a token's chain), times its scale (int16 in
                    // both halves of each lane). Integer sums: the order changes no value.
                    const __m256i scale32 = _mm256_srai_epi32(weight, 16);
                    __m256i sum32[2][Tt];
#pragma GCC unroll 8
                    for (int i = group * kGroupSteps; i < (group + 1) * kGroupSteps; ++i) {
                        const __m256i w = Panel::codes(g, j, i);
                        const int chain = i % 2, first = i < group * kGroupSteps + 2;
                        for (int t = 0; t < Tt; ++t) {
                            int32_t four;
                            std::memcpy(&four, xt[t][b].qs + 32 * j + 4 * i, 4);
                            sum32[chain][t] = _mm256_dpbusd_epi32(first ? _mm256_setzero_si256() : sum32[chain][t], w,
                                                                  _mm256_set1_epi32(four));
                        }
                    }
                    for (int t = 0; t < Tt; ++t) {
                        sum[t] = _mm256_add_epi32(sum[t], _mm256_mullo_epi32(_mm256_add_epi32(sum32[0][t], sum32[1][t]), scale32));
                        // In sub-block order: GCC otherwise sums the products as a tree, spilling
                        // the pending ones to the stack.
                        asm("" : "+v"(sum[t]));
                    }
                    continue;
                }
                __m256i sum16[Tt];
#pragma GCC unroll 8
                for (int i = group * kGroupSteps; i < (group + 1) * kGroupSteps; ++i) {
                    const __m256i w = Panel::codes(g, j, i);
                    for (int t = 0; t < Tt; ++t) {
                        int32_t four;
                        std::memcpy(&four, xt[t][b].qs + 32 * j + 4 * i, 4);
                        const __m256i prod = _mm256_maddubs_epi16(w, _mm256_set1_epi32(four));
                        sum16[t] = i % kWiden == 0 ? prod : _mm256_add_epi16(sum16[t], prod);
                        asm("" : "+x"(sum16[t]));  // in step order (see panel_times_tokens)
                        if (i % kWiden == kWiden - 1) sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(sum16[t], weight));
                    }
                }
            }
            const __m256i bias_pairs = Panel::bias(g, scales, j);
            for (int t = 0; t < Tt; ++t) {
                int32_t two;
                std::memcpy(&two, xt[t][b].bsums + 2 * j, 4);
                bias[t] = _mm256_add_epi32(bias[t], _mm256_madd_epi16(bias_pairs, _mm256_set1_epi32(two)));
                if constexpr (kVnni) asm("" : "+v"(bias[t]));  // in order, as sum[t]
            }
        }
        const __m256 d = Panel::d(g), bias_d = Panel::bias_d(g);
        for (int t = 0; t < Tt; ++t) {
            const __m256 act_d = _mm256_broadcast_ss(&xt[t][b].d);
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, act_d), _mm256_cvtepi32_ps(sum[t]), acc[t]);
            acc[t] = _mm256_fnmadd_ps(_mm256_mul_ps(bias_d, act_d), _mm256_cvtepi32_ps(bias[t]), acc[t]);
        }
    }
    store_lanes<Tt>(acc, rows, y, y_stride);
}

// Tokens per microkernel call: 6 f32 + 6 int16 accumulators, the codes and a broadcast fit the 16
// ymm registers (against 4 tokens: q4_0 50 -> 35 ms on 2048x2048 x 512 tokens, one thread). The
// super-block panels keep four accumulators per token (int16, int32 and bias sums, f32): 3
// tokens, as fast as the 32-element panels' 6 on prompts (1.1B q4_k_m pp512 107-117 against
// 100-121 t/s); 6 spilled (64 against 47 ms, q4_k 5632x2048 x 512 tokens, two threads).
template <typename Panel>
constexpr int kTokens = std::is_base_of_v<SuperBlockPanel, Panel> ? 3 : 6;

// The microkernel for Tt tokens (Tt <= kTokens<Panel>) on one panel of nb 32-element blocks.
template <typename Panel, int Tt>
void times_tokens(const typename Panel::Block* panel, int64_t nb, const uint8_t* x, size_t x_stride, int rows, float* y,
                  int64_t y_stride) {
    if constexpr (Tt > kTokens<Panel>)
        return;  // never called: sweep_panels takes at most kTokens<Panel> tokens at a time
    else if constexpr (std::is_base_of_v<SuperBlockPanel, Panel>)
        super_blocks_times_tokens<Panel, Tt>(panel, nb / Panel::kSubBlocks, x, x_stride, rows, y, y_stride);
    else
        panel_times_tokens<Panel, Tt>(panel, nb, x, x_stride, rows, y, y_stride);
}

// Rows [n0, n0 + 8 n_panels) of y (N rows in all) from the panels at `panels` (nb 32-element
// blocks each): each token group's activations stay in L1 while the panels stream past (from L2
// when several groups sweep them).
template <typename Panel>
void sweep_panels(const typename Panel::Block* panels, int64_t n_panels, int64_t n0, int64_t N, int64_t nb,
                  const uint8_t* x_bytes, size_t x_stride, int64_t T, float* y, int64_t y_stride) {
    static_assert(kTokens<Panel> <= 6);
    for (int64_t t = 0; t < T; t += kTokens<Panel>) {
        const int Tt = int(std::min<int64_t>(kTokens<Panel>, T - t));
        for (int64_t p = 0; p < n_panels; ++p) {
            const int64_t row = n0 + p * kPanelRows;
            const int rows = int(std::min<int64_t>(kPanelRows, N - row));
            const uint8_t* xg = x_bytes + size_t(t) * x_stride;
            float* yg = y + t * y_stride + row;
            const auto* panel = panels + p * (nb / Panel::kSubBlocks);
            switch (Tt) {
            case 1: times_tokens<Panel, 1>(panel, nb, xg, x_stride, rows, yg, y_stride); break;
            case 2: times_tokens<Panel, 2>(panel, nb, xg, x_stride, rows, yg, y_stride); break;
            case 3: times_tokens<Panel, 3>(panel, nb, xg, x_stride, rows, yg, y_stride); break;
            case 4: times_tokens<Panel, 4>(panel, nb, xg, x_stride, rows, yg, y_stride); break;
            case 5: times_tokens<Panel, 5>(panel, nb, xg, x_stride, rows, yg, y_stride); break;
            default: times_tokens<Panel, 6>(panel, nb, xg, x_stride, rows, yg, y_stride); break;
            }
        }
    }
}

// Row-layout weights: tiles of panels packed into scratch, each swept by all the tokens.
template <typename Source>
void gemm(const void* w, size_t w_stride, int64_t N, int64_t K, const void* x, size_t x_stride, int64_t T, float* y,
          int64_t y_stride) {
    using Panel = PackedPanel<Source>;
    const int64_t nb = K / 32;
    const size_t panel_bytes = size_t(nb) * sizeof(typename Panel::Block);
    const int64_t tile_panels = std::clamp<int64_t>(int64_t(kPanelBudgetBytes / panel_bytes), 1, 16);
    auto* panels = static_cast<typename Panel::Block*>(scratch(size_t(tile_panels) * panel_bytes, 1));
    const auto* w_bytes = static_cast<const uint8_t*>(w);
    for (int64_t n0 = 0; n0 < N; n0 += tile_panels * kPanelRows) {
        const int64_t n_panels = std::min(tile_panels, (N - n0 + kPanelRows - 1) / kPanelRows);
        for (int64_t p = 0; p < n_panels; ++p) {
            const int64_t row = n0 + p * kPanelRows;
            pack_panel<Source>(w_bytes + size_t(row) * w_stride, w_stride, int(std::min<int64_t>(kPanelRows, N - row)), nb,
                               panels + p * nb);
        }
        sweep_panels<Panel>(panels, n_panels, n0, N, nb, static_cast<const uint8_t*>(x), x_stride, T, y, y_stride);
    }
}

// Interleaved8 weights (N a multiple of 8, w at a group's first row): tiles of panels sized for
// L2, so that token groups after the first read them from there. From kGemmMinTokens on, each
// tile's panels are unpacked first, once for all token groups (bench_kernels, 5632x2048 x 512
// tokens: q4_0 45 -> 38 ms; the super-block panels' 1.1B q4_k_m pp512 79-86 -> 107-117 t/s);
// below, the weights are read in place.
template <typename Panel>
void gemm_interleaved(const void* w, size_t w_stride, int64_t N, int64_t K, const void* x, size_t x_stride, int64_t T,
                      float* y, int64_t y_stride) {
    using Packed = std::conditional_t<std::is_base_of_v<SuperBlockPanel, Panel>, PackedSuperBlockPanel<Panel>, PackedPanel<Panel>>;
    static_assert(Packed::kSubBlocks == Panel::kSubBlocks);
    const int64_t nb = K / 32, blocks_per_panel = nb / Panel::kSubBlocks;
    const auto* panels = static_cast<const typename Panel::Block*>(w);
    const auto* x_bytes = static_cast<const uint8_t*>(x);
    if (T < kGemmMinTokens) {
        const int64_t tile_panels = std::clamp<int64_t>(int64_t(kPanelBudgetBytes / (size_t(kPanelRows) * w_stride)), 1, 16);
        for (int64_t n0 = 0; n0 < N; n0 += tile_panels * kPanelRows)
            sweep_panels<Panel>(panels + (n0 / kPanelRows) * blocks_per_panel, std::min(tile_panels, (N - n0) / kPanelRows), n0,
                                N, nb, x_bytes, x_stride, T, y, y_stride);
        return;
    }
    // A packed block covers as many elements as the Panel's (Packed::kSubBlocks == Panel::kSubBlocks).
    const size_t panel_bytes = size_t(blocks_per_panel) * sizeof(typename Packed::Block);
    const int64_t tile_panels = std::clamp<int64_t>(int64_t(kPanelBudgetBytes / panel_bytes), 1, 16);
    auto* packed = static_cast<typename Packed::Block*>(scratch(size_t(tile_panels) * panel_bytes, 1));
    for (int64_t n0 = 0; n0 < N; n0 += tile_panels * kPanelRows) {
        const int64_t n_panels = std::min(tile_panels, (N - n0) / kPanelRows);
        const auto* tile = panels + (n0 / kPanelRows) * blocks_per_panel;
        Packed::from_interleaved(tile, n_panels * blocks_per_panel, packed);
        sweep_panels<Packed>(packed, n_panels, n0, N, nb, x_bytes, x_stride, T, y, y_stride);
    }
}

constexpr GemmTable make_row_table() {
    GemmTable t{};
    t[size_t(DType::q8_0)].fn = gemm<Block32Source<Q8_0Format>>;
    t[size_t(DType::q4_0)].fn = gemm<Block32Source<Q4_0Format>>;
    t[size_t(DType::q4_1)].fn = gemm<Block32Source<Q4_1Format>>;
    t[size_t(DType::q5_0)].fn = gemm<Block32Source<Q5_0Format>>;
    t[size_t(DType::q5_1)].fn = gemm<Block32Source<Q5_1Format>>;
    t[size_t(DType::iq4_nl)].fn = gemm<Block32Source<IQ4_NLFormat>>;
    t[size_t(DType::q4_k)].fn = gemm<Q45KSource<quant::BlockQ4_K, false>>;
    t[size_t(DType::q5_k)].fn = gemm<Q45KSource<quant::BlockQ5_K, true>>;
    t[size_t(DType::q6_k)].fn = gemm<Q6KSource>;
    return t;
}

constexpr GemmTable make_interleaved_table() {
    GemmTable t{};
    t[size_t(DType::q4_0)] = {gemm_interleaved<Q4_0x8Panel>, 1};
    t[size_t(DType::q8_0)] = {gemm_interleaved<Q8_0x8Panel>, 1};
    t[size_t(DType::q5_0)] = {gemm_interleaved<Q5_0x8Panel>, 1};
    t[size_t(DType::q4_k)] = {gemm_interleaved<Q4_Kx8Panel>, 1, ActFormat::q8_256};
    t[size_t(DType::q6_k)] = {gemm_interleaved<Q6_Kx8Panel>, 1, ActFormat::q8_256};
    return t;
}

// This level's GEMMs, by layout.
const GemmTable& this_level_gemms(Layout layout) {
    static constexpr GemmTable kRowTable = make_row_table(), kInterleavedTable = make_interleaved_table();
    return layout == Layout::interleaved8 ? kInterleavedTable : kRowTable;
}

}  // namespace
}  // namespace slm::kernels
