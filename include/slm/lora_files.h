// LoRA adapters by path, whatever their format: a PEFT directory or a llama.cpp GGUF LoRA file,
// each with a user scale (`--lora PATH[:SCALE]`), loaded and bound to a model as a LoraStack.
#pragma once

#include <slm/lora_adapter.h>
#include <slm/lora_stack.h>
#include <slm/model_config.h>

#include <string>
#include <vector>

namespace slm {

class Model;

struct LoraSpec {
    std::string path;
    float scale = 1.0f;
};

// "PATH" or "PATH:SCALE". The text after the last ':' is a scale only when all of it is a number,
// so a path holding ':' still reads as a path; a scale that is not finite is an error.
LoraSpec parse_lora_spec(const std::string& text);

// A PEFT directory (LoraAdapter::load_peft) or a file ending in .gguf (load_gguf_lora, which reads
// it against the base model's config).
LoraAdapter load_lora_adapter(const std::string& path, const ModelConfig& base);

// Every spec loaded and bound to `model`, in order; errors name the path. No specs: an empty stack.
LoraStack load_lora_stack(const Model& model, const std::vector<LoraSpec>& specs);

}  // namespace slm
