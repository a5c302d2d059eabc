// Writing a trained model (full fine-tuning, training from scratch, a distilled student): the HF
// directory in the storage type asked for, and a GGUF beside it when asked.
#pragma once

#include <slm/dtype.h>
#include <slm/thread_pool.h>

#include "train/model_parameters.h"

#include <string>

namespace slm::train {

// --save-dtype: f32, f16 or bf16; empty: the type the model's config names (else f32).
DType save_dtype(const std::string& requested, const ModelParameters& params);

// Writes `output` (HF directory, tokenizer and generation files from `side_files`) and, when
// gguf_type is set, OUTPUT/model-TYPE.gguf; returns the GGUF's path ("" when none).
std::string save_model(const ModelParameters& params, const std::string& output, DType dtype,
                       const std::string& side_files, const std::string& gguf_type, ThreadPool& pool);

}  // namespace slm::train
