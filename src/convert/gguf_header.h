// The keys every GGUF that slm convert writes opens and closes with: general.architecture, type
// and name, the ARCH.* sizes, and general.file_type / quantization_version; shared by decoders
// (hf_to_gguf.cpp) and encoders (encoder_gguf.cpp) so the two cannot drift apart.
#pragma once

#include <slm/convert.h>
#include <slm/dtype.h>
#include <slm/gguf.h>

#include <cstdint>
#include <string>

namespace slm::convert {

// general.name: --name, else the directory's name.
std::string converted_model_name(const std::string& dir, const ConvertOptions& options);

// The sizes every architecture's keys start with, in llama.cpp's order.
struct GgufModelSizes {
    uint32_t block_count = 0, context_length = 0, embedding_length = 0, feed_forward_length = 0, head_count = 0;
};

// general.architecture, general.type ("model"), general.name, then ARCH.block_count,
// context_length, embedding_length, feed_forward_length and attention.head_count.
void add_model_header(GgufWriter& writer, const std::string& arch, const std::string& model_name,
                      const GgufModelSizes& sizes);

// general.file_type (llama.cpp's llama_ftype for `type`) and general.quantization_version 2;
// slm::Error for a type slm convert does not write (f32, f16, bf16, q8_0 are).
void add_file_type(GgufWriter& writer, DType type);

}  // namespace slm::convert
