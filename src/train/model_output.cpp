// Writing a trained model (model_output.h).
#include "train/model_output.h"

#include <slm/convert.h>
#include <slm/error.h>

#include <fmt/format.h>

#include <filesystem>

namespace slm::train {

namespace fs = std::filesystem;

// The storage type of a saved model: --save-dtype, else the base's own.
DType save_dtype(const std::string& requested, const ModelParameters& params) {
    if (requested.empty()) return config_dtype(params.config_json());
    const std::optional<DType> t = dtype_from_name(requested);
    if (!t || (*t != DType::f32 && *t != DType::f16 && *t != DType::bf16))
        fail("--save-dtype {}: a model directory stores f32, f16 or bf16", requested);
    return *t;
}

// Writes the trained model as OUTPUT (HF directory) and, when asked, OUTPUT/model-TYPE.gguf.
std::string save_model(const ModelParameters& params, const std::string& output, DType dtype,
                       const std::string& side_files, const std::string& gguf_type, ThreadPool& pool) {
    params.save_hf_directory(output, dtype, side_files, pool);
    if (gguf_type.empty()) return "";
    ConvertOptions convert;
    const std::optional<DType> t = dtype_from_name(gguf_type);
    if (!t) fail("--gguf {}: not a type name (f32, f16, bf16, q8_0, q4_k, …)", gguf_type);
    convert.type = *t;
    convert.name = fs::path(output).filename().string();
    const std::string path = (fs::path(output) / fmt::format("model-{}.gguf", gguf_type)).string();
    convert_hf_to_gguf(output, path, convert, &pool);
    return path;
}

}  // namespace slm::train
