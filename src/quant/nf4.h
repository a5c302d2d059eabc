// NF4 (QLoRA's 4-bit NormalFloat) in the two forms slm handles: the in-memory row form BlockNF4
// (blocks.h: f16 absmax + 32 packed bytes per 64 values) and bitsandbytes' checkpoint layout
// (packed uint8 data, 8-bit "double-quantized" absmax with its own f32 scales, and an offset).
// Facts from the QLoRA paper and bitsandbytes' source (functional.py, backends/default/ops.py).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace slm::quant {

constexpr int kNf4Block = 64;          // values per absmax (bitsandbytes' default blocksize)
constexpr int kNf4NestedBlock = 256;   // absmax values per nested f32 scale

// The 16 NF4 levels (quantiles of N(0,1) scaled to [-1, 1], exact 0 included), as float32.
const std::array<float, 16>& nf4_code_book();
// The 256-entry signed dynamic 8-bit map bitsandbytes quantizes absmax with
// (create_dynamic_map(signed=True)), computed with float32 arithmetic as torch does it.
const std::array<float, 256>& dynamic_map_8bit();

// Index of the nearest entry of a sorted code book: the number of midpoints (a+b)/2 strictly
// below v, as torch.bucketize(v, midpoints) counts them; ties go to the lower entry.
int nearest_code_index(const float* code, int size, float v);

// A tensor in bitsandbytes' nf4 layout with double quantization (compress_statistics=True),
// i.e. what a HF `bnb-4bit` checkpoint stores for one Linear weight.
struct BnbNf4 {
    std::vector<uint8_t> packed;          // `weight`: two codes per byte, the first in the high nibble
    std::vector<uint8_t> absmax;          // `weight.absmax`: absmax - offset, 8-bit dynamic codes
    std::vector<float> nested_absmax;     // `weight.nested_absmax`: f32 scale per 256 absmax values
    float offset = 0;                     // `nested_offset`: mean of the f32 absmax values
    int64_t n = 0;                        // number of values (product of `shape`)
    // `weight.quant_map` and `weight.nested_quant_map`: what the codes mean. Quantizing writes
    // the standard ones; a loader sets those of the file.
    std::array<float, 16> quant_map = nf4_code_book();
    std::array<float, 256> nested_quant_map = dynamic_map_8bit();
};

// Quantizes n values (n a multiple of 64) as bitsandbytes' quantize_4bit(nf4, blocksize 64,
// compress_statistics=True). The offset is the mean of the block absmax values, summed in
// double (torch's float32 reduction order may differ in the last bit; see docs/quantization.md).
BnbNf4 quantize_bnb_nf4(const float* x, int64_t n);
// Same, with a given offset (to reproduce a file exactly).
BnbNf4 quantize_bnb_nf4(const float* x, int64_t n, float offset);

// The f32 absmax per 64-block that a BnbNf4 encodes: dynamic_map[absmax] * nested + offset.
std::vector<float> bnb_block_absmax(const BnbNf4& t);
// Dequantizes to n floats as bitsandbytes' dequantize_4bit does (code * absmax in float32).
void dequantize_bnb_nf4(const BnbNf4& t, float* y);

// Layout conversion: the row form keeps each block's codes and its absmax (decoded from the
// double quantization, then rounded to f16); the other way re-quantizes only the absmax values.
void bnb_nf4_to_blocks(const BnbNf4& t, void* blocks);
BnbNf4 blocks_to_bnb_nf4(const void* blocks, int64_t n);

}  // namespace slm::quant
