// Training from scratch (`slm train`): a Llama- or Qwen2-family model made from a config.json with
// transformers' initialisation, pretrained on text with packed sequences (plain .txt files are
// cut into max_seq_len pieces), evaluated as perplexity on held-out text, and written as a
// Hugging Face directory with the given tokenizer (and optionally a GGUF). The loop, checkpoints,
// resume and reporting are every training run's (training.h).
#pragma once

#include <slm/training.h>

#include <string>
#include <vector>

namespace slm {

struct PretrainOptions : TrainingOptions {
    std::string config;             // config.json of the model to make
    std::string tokenizer;          // a model directory with tokenizer files, or a tokenizer.json
    std::vector<std::string> data;  // text files (.txt) or JSONL in the fine-tuning formats
    std::string save_dtype;         // f32, f16 or bf16 (default: the config's dtype, else f32)
    std::string gguf_type;          // also write OUTPUT/model-TYPE.gguf when set
};

TrainingSummary pretrain(const PretrainOptions& options);

}  // namespace slm
