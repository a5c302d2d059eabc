// The DType table: one row per element type. GGUF ids are ggml's ggml_type values; safetensors
// names are those of the safetensors spec.
#include <slm/dtype.h>
#include <slm/half.h>

#include "quant/blocks.h"

#include <array>
#include <cstring>

namespace slm {
namespace {

void f32_to_float(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * 4); }
void f32_from_float(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * 4); }
void f16_to_float(const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
}
void f16_from_float(const float* src, void* dst, int64_t n) {
    auto* d = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
}
void bf16_to_float(const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
}
void bf16_from_float(const float* src, void* dst, int64_t n) {
    auto* d = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
}
void f64_to_float(const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const double*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = float(s[i]);
}
// float8 e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities, 0x7f/0xff are nan.
void f8_e4m3_to_float(const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; ++i) {
        const uint8_t b = s[i];
        const int exp = (b >> 3) & 0xf, mant = b & 7;
        float v;
        if (exp == 0xf && mant == 7) v = __builtin_nanf("");
        else if (exp == 0) v = float(mant) / 8.0f * 0.015625f;  // subnormal: mant/8 * 2^-6
        else v = (1.0f + float(mant) / 8.0f) * float(1 << exp) / 128.0f;
        dst[i] = (b & 0x80) ? -v : v;
    }
}

using namespace quant;
constexpr ToFloatFn no_to = nullptr;
constexpr FromFloatFn no_from = nullptr;

// clang-format off
constexpr std::array<DTypeTraits, size_t(DType::count_)> kTable = {{
    // type            name       block  bytes gguf  safetensors  float  to_float          from_float
    {DType::f32,     "f32",      1,     4,    0,    "F32",       true,  f32_to_float,     f32_from_float},
    {DType::f16,     "f16",      1,     2,    1,    "F16",       true,  f16_to_float,     f16_from_float},
    {DType::bf16,    "bf16",     1,     2,    30,   "BF16",      true,  bf16_to_float,    bf16_from_float},
    {DType::f64,     "f64",      1,     8,    28,   "F64",       true,  f64_to_float,     no_from},
    {DType::i8,      "i8",       1,     1,    24,   "I8",        false, no_to,            no_from},
    {DType::u8,      "u8",       1,     1,    -1,   "U8",        false, no_to,            no_from},
    {DType::i16,     "i16",      1,     2,    25,   "I16",       false, no_to,            no_from},
    {DType::i32,     "i32",      1,     4,    26,   "I32",       false, no_to,            no_from},
    {DType::i64,     "i64",      1,     8,    27,   "I64",       false, no_to,            no_from},
    {DType::boolean, "bool",     1,     1,    -1,   "BOOL",      false, no_to,            no_from},
    {DType::f8_e4m3, "f8_e4m3",  1,     1,    -1,   "F8_E4M3",   true,  f8_e4m3_to_float, no_from},
    {DType::q4_0,    "q4_0",     32,    18,   2,    "",          false, dequantize_q4_0,  quantize_q4_0},
    {DType::q4_1,    "q4_1",     32,    20,   3,    "",          false, dequantize_q4_1,  quantize_q4_1},
    {DType::q5_0,    "q5_0",     32,    22,   6,    "",          false, dequantize_q5_0,  quantize_q5_0},
    {DType::q5_1,    "q5_1",     32,    24,   7,    "",          false, dequantize_q5_1,  quantize_q5_1},
    {DType::q8_0,    "q8_0",     32,    34,   8,    "",          false, dequantize_q8_0,  quantize_q8_0},
    {DType::q8_1,    "q8_1",     32,    36,   9,    "",          false, dequantize_q8_1,  quantize_q8_1},
    {DType::q2_k,    "q2_k",     256,   84,   10,   "",          false, dequantize_q2_k,  quantize_q2_k},
    {DType::q3_k,    "q3_k",     256,   110,  11,   "",          false, dequantize_q3_k,  quantize_q3_k},
    {DType::q4_k,    "q4_k",     256,   144,  12,   "",          false, dequantize_q4_k,  quantize_q4_k},
    {DType::q5_k,    "q5_k",     256,   176,  13,   "",          false, dequantize_q5_k,  quantize_q5_k},
    {DType::q6_k,    "q6_k",     256,   210,  14,   "",          false, dequantize_q6_k,  quantize_q6_k},
    {DType::q8_k,    "q8_k",     256,   292,  15,   "",          false, dequantize_q8_k,  quantize_q8_k},
    {DType::nf4,     "nf4",      64,    34,   -1,   "",          false, dequantize_nf4,   quantize_nf4},
    {DType::iq4_nl,  "iq4_nl",   32,    18,   20,   "",          false, dequantize_iq4_nl, quantize_iq4_nl},
}};
// clang-format on

constexpr bool table_in_enum_order() {
    for (size_t i = 0; i < kTable.size(); ++i)
        if (size_t(kTable[i].type) != i) return false;
    return true;
}
static_assert(table_in_enum_order(), "kTable rows must follow the DType enum order");

}  // namespace

const DTypeTraits& traits(DType t) { return kTable[size_t(t)]; }

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const auto& row : kTable)
        if (row.name == name) return row.type;
    return std::nullopt;
}

std::optional<DType> dtype_from_gguf(uint32_t gguf_id) {
    for (const auto& row : kTable)
        if (row.gguf_id >= 0 && uint32_t(row.gguf_id) == gguf_id) return row.type;
    return std::nullopt;
}

std::optional<DType> dtype_from_safetensors(std::string_view name) {
    for (const auto& row : kTable)
        if (!row.safetensors.empty() && row.safetensors == name) return row.type;
    return std::nullopt;
}

size_t row_bytes(DType t, int64_t n) {
    const auto& tr = traits(t);
    return size_t(n / tr.block_size) * size_t(tr.block_bytes);
}

bool is_quantized(DType t) { return traits(t).block_size > 1; }

}  // namespace slm
