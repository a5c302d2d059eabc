// `slm finetune MODEL --data TRAIN.jsonl -o OUT`: LoRA / QLoRA fine-tuning on the CPU, writing a
// PEFT adapter, or full fine-tuning (--full) writing an HF directory (slm/finetune.h); with
// checkpoints, per-step JSON metrics and loss.svg.
#include <CLI/CLI.hpp>
#include <slm/finetune.h>

#include "training_options.h"

#include <memory>

#include "model_arg.h"

void add_verb_finetune(CLI::App& app) {
    using namespace slm;
    auto opt = std::make_shared<FinetuneOptions>();
    auto* cmd = app.add_subcommand("finetune", "Fine-tune a model: LoRA / QLoRA (a PEFT adapter) or every weight (--full)");
    auto models = std::make_shared<cli::ModelArgs>(cmd);
    models->add("model", opt->model, "Base model: HF directory or GGUF file (--full: HF directory)")->required();
    cmd->add_option("--data", opt->data,
                    "Training data: JSONL ({\"text\"}, {\"prompt\",\"completion\"}, Alpaca, {\"messages\"}) or .txt")
        ->required()
        ->check(CLI::ExistingFile);
    cli::add_lora_training_options(cmd, opt->lora);
    cmd->add_flag("--qlora", opt->qlora, "Hold a float base in NF4 with double quantization (QLoRA)");
    cmd->add_flag("--full", opt->full, "Train every weight (f32 master weights); writes an HF model directory");
    cmd->add_option("--save-dtype", opt->save_dtype, "--full: f32, f16 or bf16 (default: the base's)");
    cmd->add_option("--gguf", opt->gguf_type, "--full: also write OUT/model-TYPE.gguf (f16, q8_0, q4_k, …)");
    cli::add_training_options(cmd, *opt);
    cmd->callback([opt, models] {
        models->resolve();
        const FinetuneSummary s = finetune(*opt);
        cli::print_training_summary(s, *opt, opt->full ? "model" : "adapter");
    });
}
