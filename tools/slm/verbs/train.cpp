// `slm train --config CONFIG.json --tokenizer DIR_OR_FILE --data TEXT… -o OUT`: a model trained
// from scratch (slm/pretrain.h), written as an HF directory with checkpoints and loss.svg.
#include <CLI/CLI.hpp>
#include <slm/pretrain.h>

#include "training_options.h"

#include <memory>

void add_verb_train(CLI::App& app) {
    using namespace slm;
    auto opt = std::make_shared<PretrainOptions>();
    auto* cmd = app.add_subcommand("train", "Train a Llama- or Qwen2-family model from scratch on text");
    cmd->add_option("--config", opt->config, "config.json of the model (transformers' fields)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--tokenizer", opt->tokenizer, "Tokenizer: a model directory or a tokenizer.json")->required();
    cmd->add_option("--data", opt->data, "Text files (.txt, cut into --max-seq-len pieces) or JSONL")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--save-dtype", opt->save_dtype, "f32, f16 or bf16 (default: the config's dtype, else f32)");
    cmd->add_option("--gguf", opt->gguf_type, "Also write OUT/model-TYPE.gguf (f16, q8_0, q4_k, …)");
    cli::add_training_options(cmd, *opt);
    cmd->callback([opt] {
        const TrainingSummary s = pretrain(*opt);
        cli::print_training_summary(s, *opt, "model");
    });
}
