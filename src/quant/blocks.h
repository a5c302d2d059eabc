// Block layouts of the quantized types, byte-for-byte as GGUF stores them (ggml's block_*
// structs), and the reference (scalar) quantize/dequantize functions the DType table points to.
#pragma once

#include <cstdint>

namespace slm::quant {

constexpr int QK = 32;    // elements per block of the legacy types
constexpr int QK_K = 256; // elements per super-block of the k-quants
constexpr int K_SCALE_SIZE = 12;

#pragma pack(push, 1)
struct BlockQ4_0 { uint16_t d; uint8_t qs[QK / 2]; };
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[QK / 2]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; };
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[QK]; };
struct BlockQ8_1 { uint16_t d, s; int8_t qs[QK]; };  // s = d * sum(qs)
struct BlockQ2_K { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; uint16_t d, dmin; };
struct BlockQ3_K { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; uint16_t d; };
struct BlockQ4_K { uint16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; };
struct BlockQ5_K { uint16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; };
struct BlockQ6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; };
struct BlockQ8_K { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; };
// NF4 (QLoRA): 64 4-bit code-book indices, two per byte, the first element in the high nibble
// as bitsandbytes packs them, and the block's absmax as f16.
struct BlockNF4 { uint16_t absmax; uint8_t qs[32]; };
// iq4_nl: f16 scale and 32 indices into a fixed 16-entry non-linear table, packed as q4_0.
struct BlockIQ4_NL { uint16_t d; uint8_t qs[QK / 2]; };
#pragma pack(pop)

// iq4_nl's 16 levels (ggml's kvalues_iq4nl): element = d * kIq4NlLevels[index].
inline constexpr int8_t kIq4NlLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockNF4) == 34 && sizeof(BlockIQ4_NL) == 18);

// Reference conversions, one pair per type: n is a multiple of the type's block size.
#define SLM_QUANT_REF(T)                                               \
    void dequantize_##T(const void* src, float* dst, int64_t n);       \
    void quantize_##T(const float* src, void* dst, int64_t n);
SLM_QUANT_REF(q4_0)
SLM_QUANT_REF(q4_1)
SLM_QUANT_REF(q5_0)
SLM_QUANT_REF(q5_1)
SLM_QUANT_REF(q8_0)
SLM_QUANT_REF(q8_1)
SLM_QUANT_REF(q2_k)
SLM_QUANT_REF(q3_k)
SLM_QUANT_REF(q4_k)
SLM_QUANT_REF(q5_k)
SLM_QUANT_REF(q6_k)
SLM_QUANT_REF(q8_k)
SLM_QUANT_REF(nf4)
SLM_QUANT_REF(iq4_nl)
#undef SLM_QUANT_REF

}  // namespace slm::quant
