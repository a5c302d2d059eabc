// Fine-tuning (`slm finetune`): LoRA / QLoRA adapters beside a frozen base (any dtype, or NF4 made
// from a float base for QLoRA) written as a PEFT adapter, or every weight trained (--full) with
// f32 master weights and written as a Hugging Face directory (and optionally a GGUF). AdamW with a
// warmup schedule, accumulation and clipping, evaluation, atomic checkpoints that resume bit for
// bit, progress, JSON metrics and a loss-curve picture come from the shared loop (training.h).
#pragma once

#include <slm/training.h>

#include <string>

namespace slm {

struct FinetuneOptions : TrainingOptions {
    std::string model;            // HF directory or GGUF file (--full: an HF directory)
    std::string data;             // .jsonl (text, prompt/completion, alpaca, messages) or .txt
    LoraTrainingOptions lora;
    bool qlora = false;           // float base held in NF4 with double quantization (bitsandbytes')
    bool full = false;            // train every weight instead of an adapter
    std::string save_dtype;       // --full: f32, f16 or bf16 (default: the base's)
    std::string gguf_type;        // --full: also write OUTPUT/model-TYPE.gguf (f16, q8_0, …) when set
};

using FinetuneSummary = TrainingSummary;

// Runs a fine-tuning; throws slm::Error on bad input (files, fields, options).
FinetuneSummary finetune(const FinetuneOptions& options);

}  // namespace slm
