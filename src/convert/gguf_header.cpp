// The opening and closing keys of a converted GGUF: names, sizes, file type.
#include "convert/gguf_header.h"

#include <slm/error.h>

#include <filesystem>

namespace slm::convert {

std::string converted_model_name(const std::string& dir, const ConvertOptions& options) {
    if (!options.name.empty()) return options.name;
    std::string name = std::filesystem::path(dir).lexically_normal().filename().string();
    if (name.empty()) name = std::filesystem::path(dir).parent_path().filename().string();  // "dir/"
    return name;
}

void add_model_header(GgufWriter& writer, const std::string& arch, const std::string& model_name,
                      const GgufModelSizes& sizes) {
    writer.set("general.architecture", GgufWriter::str(arch));
    writer.set("general.type", GgufWriter::str("model"));
    writer.set("general.name", GgufWriter::str(model_name));
    writer.set(arch + ".block_count", GgufWriter::u32(sizes.block_count));
    writer.set(arch + ".context_length", GgufWriter::u32(sizes.context_length));
    writer.set(arch + ".embedding_length", GgufWriter::u32(sizes.embedding_length));
    writer.set(arch + ".feed_forward_length", GgufWriter::u32(sizes.feed_forward_length));
    writer.set(arch + ".attention.head_count", GgufWriter::u32(sizes.head_count));
}

void add_file_type(GgufWriter& writer, DType type) {
    uint32_t file_type = 0;  // llama_ftype
    switch (type) {
        case DType::f32:
            file_type = 0;
            break;
        case DType::f16:
            file_type = 1;
            break;
        case DType::q8_0:
            file_type = 7;
            break;
        case DType::bf16:
            file_type = 32;
            break;
        default:
            fail("slm convert: --type {} is not supported (f32, f16, bf16 or q8_0)", name(type));
    }
    writer.set("general.file_type", GgufWriter::u32(file_type));
    writer.set("general.quantization_version", GgufWriter::u32(2));
}

}  // namespace slm::convert
