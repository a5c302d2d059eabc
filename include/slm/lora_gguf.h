// llama.cpp's GGUF LoRA adapter files (general.type "adapter", tensors blk.N.attn_q.weight.lora_a
// / .lora_b), written from and read back into a LoraAdapter in Hugging Face module names. The base
// model's config gives the architecture, the tensor names and the q/k row order llama.cpp uses.
// Facts relied on: docs/adapters.md.
#pragma once

#include <slm/dtype.h>
#include <slm/lora_adapter.h>
#include <slm/model_config.h>

#include <string>

namespace slm {

// Writes `adapter` as a llama.cpp LoRA GGUF for a model of config `base` (written atomically).
// `type`: f32, f16 or bf16 for every tensor. llama.cpp applies one adapter.lora.alpha to all
// modules (scale = alpha / rank); a module whose scale differs from that has the ratio folded
// into its lora_b. q_proj/k_proj lora_b rows are permuted as llama.cpp permutes those weights.
void write_gguf_lora(const LoraAdapter& adapter, const ModelConfig& base, const std::string& path,
                     DType type = DType::f32);

// Reads a llama.cpp LoRA GGUF made for a model of config `base` back into HF module names and
// layout, with each module's scale as llama.cpp computes it and a PEFT config that gives the same
// ranks and scales (rank_pattern / alpha_pattern for modules that differ from the commonest rank).
// Modules come in the base model's order: layer by layer, q, k, v, o, gate, up, down, then lm_head.
LoraAdapter load_gguf_lora(const std::string& path, const ModelConfig& base);

// `slm convert BASE --lora DIR`: the PEFT adapter in `peft_dir` as a GGUF LoRA for the model at
// `base_path` (an HF directory or a GGUF file: only its config is read).
void convert_peft_to_gguf_lora(const std::string& base_path, const std::string& peft_dir, const std::string& out_path,
                               DType type);

}  // namespace slm
