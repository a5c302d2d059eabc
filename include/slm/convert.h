// Conversion of a Hugging Face model directory into a GGUF file that llama.cpp loads: metadata
// of the architecture, the tokenizer (tokenizer.ggml.*), the chat template, and the weights in
// llama.cpp's names and layouts, converted to one storage type.
#pragma once

#include <slm/dtype.h>
#include <slm/thread_pool.h>

#include <string>

namespace slm {

struct ConvertOptions {
    DType type = DType::f16;  // for matrices: f32, f16, bf16 or q8_0; 1-D tensors stay f32
    std::string name;         // general.name; the directory's name when empty
};

// Converts `hf_dir` into `out_path` (written atomically); progress goes to stderr.
void convert_hf_to_gguf(const std::string& hf_dir, const std::string& out_path, const ConvertOptions& options,
                        ThreadPool* pool);

}  // namespace slm
