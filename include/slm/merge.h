// `slm merge`: LoRA adapters folded into a base model's weights (W' = W + Σ scale·B·A), written
// as a Hugging Face directory (safetensors + config + tokenizer files, what transformers loads)
// or as a GGUF of a chosen type (what llama.cpp and ollama load), so a tuned model can be shipped
// as one model with no adapter to carry.
#pragma once

#include <slm/lora_files.h>
#include <slm/thread_pool.h>

#include <string>
#include <vector>

namespace slm {

struct MergeOptions {
    std::vector<LoraSpec> adapters;  // PEFT directories or GGUF LoRAs, each with its user scale
    // A directory (HF output) or a file ending in .gguf.
    std::string output;
    // HF output: the storage type of every floating tensor (f32, f16, bf16; empty: each keeps the
    // base's). GGUF output: the matrices' type as `slm convert --type` takes it (default f16).
    std::string type;
};

// Merges into the float base in the HF directory `base_dir` (a quantized GGUF base has no exact
// float weights to merge into: its adapters stay unmerged, `--lora`). Writes atomically; throws
// slm::Error naming an adapter module that matches no weight of the base, or a shape that differs.
void merge_lora(const std::string& base_dir, const MergeOptions& options, ThreadPool& pool);

}  // namespace slm
