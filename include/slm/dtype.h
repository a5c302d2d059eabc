// DType: every element type slm stores, and one table describing each (block size, bytes per
// block, GGUF id, safetensors name, reference conversion to float). A new type is one table row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace slm {

enum class DType : uint8_t {
    f32, f16, bf16, f64,
    i8, u8, i16, i32, i64, boolean, f8_e4m3,
    q4_0, q4_1, q5_0, q5_1, q8_0, q8_1,
    q2_k, q3_k, q4_k, q5_k, q6_k, q8_k,
    nf4, iq4_nl,
    count_,
};

// Converts `n` elements (a multiple of block_size) at `src` to floats at `dst`.
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
// Quantizes `n` floats (a multiple of block_size) into blocks at `dst`; reference quality.
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);

struct DTypeTraits {
    DType type;
    std::string_view name;         // our name and llama.cpp's lower-case one: "q4_k", "bf16"
    int block_size;                // elements per block (1 for plain types)
    int block_bytes;               // bytes per block
    int gguf_id;                   // ggml_type value in GGUF files, -1 when GGUF has none
    std::string_view safetensors;  // safetensors dtype string, empty when it has none
    bool is_float;                 // plain floating point (f32, f16, bf16, f64, f8)
    ToFloatFn to_float;            // nullptr for integer and boolean types
    FromFloatFn from_float;        // nullptr where slm cannot write the type
};

const DTypeTraits& traits(DType t);
inline std::string_view name(DType t) { return traits(t).name; }

std::optional<DType> dtype_from_name(std::string_view name);
std::optional<DType> dtype_from_gguf(uint32_t gguf_id);
std::optional<DType> dtype_from_safetensors(std::string_view name);

// Bytes used by one row of `n` elements; n must be a multiple of the block size.
size_t row_bytes(DType t, int64_t n);
bool is_quantized(DType t);

}  // namespace slm
