// `slm finetune MODEL --data TRAIN.jsonl -o ADAPTER_DIR`: LoRA / QLoRA fine-tuning on the CPU
// (slm/finetune.h), writing a PEFT adapter, checkpoints, per-step JSON metrics and loss.svg.
#include <CLI/CLI.hpp>
#include <slm/finetune.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <memory>

namespace {

using namespace slm;

void run_finetune(const FinetuneOptions& opt) {
    const FinetuneSummary s = finetune(opt);
    const double ppl_before = std::exp(s.eval_loss_before), ppl_after = std::exp(s.eval_loss_after);
    if (opt.json) {
        nlohmann::ordered_json j = {{"summary", true},
                                    {"steps", s.steps},
                                    {"train_loss", s.train_loss},
                                    {"eval_loss_before", s.eval_loss_before},
                                    {"eval_loss_after", s.eval_loss_after},
                                    {"eval_ppl_before", ppl_before},
                                    {"eval_ppl_after", ppl_after},
                                    {"seconds", s.seconds},
                                    {"tokens_per_second", s.tokens_per_second},
                                    {"peak_rss_bytes", s.peak_rss_bytes},
                                    {"adapter", s.adapter_dir},
                                    {"plot", s.plot_path}};
        fmt::print("{}\n", j.dump());
        return;
    }
    fmt::print("adapter: {} (loss curves: {})\n", s.adapter_dir, s.plot_path);
    fmt::print("steps: {}  train loss: {:.4f}", s.steps, s.train_loss);
    if (!std::isnan(s.eval_loss_after))
        fmt::print("  eval loss: {:.4f} -> {:.4f} (perplexity {:.2f} -> {:.2f})", s.eval_loss_before,
                   s.eval_loss_after, ppl_before, ppl_after);
    fmt::print("\ntime: {:.1f} s  {:.0f} tokens/s  peak RSS {:.0f} MiB\n", s.seconds, s.tokens_per_second,
               double(s.peak_rss_bytes) / (1 << 20));
}

}  // namespace

void add_verb_finetune(CLI::App& app) {
    auto opt = std::make_shared<FinetuneOptions>();
    auto* cmd = app.add_subcommand("finetune", "Fine-tune a model with LoRA or QLoRA; writes a PEFT adapter");
    cmd->add_option("model", opt->model, "Base model: HF directory or GGUF file")->required();
    cmd->add_option("--data", opt->data,
                    "Training data: JSONL ({\"text\"}, {\"prompt\",\"completion\"}, Alpaca, {\"messages\"}) or .txt")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("-o,--output", opt->output, "Adapter directory to write (checkpoints go inside)")->required();
    cmd->add_option("--eval-data", opt->eval_data, "Held-out data in the same formats")->check(CLI::ExistingFile);
    cmd->add_option("--eval-split", opt->eval_split, "Fraction of --data held out for evaluation instead");
    cmd->add_option("--eval-every", opt->eval_every, "Steps between evaluations (default: each epoch's end)");
    cmd->add_option("--eval-max", opt->eval_max_examples, "Evaluate on at most this many examples (default: all)");
    cmd->add_option("--lora-r", opt->lora_r, "LoRA rank (default 16)");
    cmd->add_option("--lora-alpha", opt->lora_alpha, "LoRA alpha; scale = alpha / r (default 32)");
    cmd->add_option("--lora-dropout", opt->lora_dropout, "Dropout on each adapter's input (default 0.05)");
    cmd->add_flag("--rslora", opt->use_rslora, "Rank-stabilized scale alpha / sqrt(r) (PEFT's use_rslora)");
    cmd->add_option("--target", opt->targets,
                    "Modules to adapt: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj or all-linear "
                    "(default)");
    cmd->add_flag("--qlora", opt->qlora, "Hold a float base in NF4 with double quantization (QLoRA)");
    cmd->add_option("--epochs", opt->epochs, "Passes over the data (default 1)");
    cmd->add_option("--max-steps", opt->max_steps, "Stop after this many optimizer steps (overrides --epochs)");
    cmd->add_option("--lr", opt->lr, "Peak learning rate (default 2e-4)");
    cmd->add_option("--warmup", opt->warmup, "Warmup: a fraction of the steps (< 1) or a number of steps (default 0.03)");
    cmd->add_option("--schedule", opt->schedule, "cosine (default), linear or constant");
    cmd->add_option("--weight-decay", opt->weight_decay, "AdamW weight decay (default 0)");
    cmd->add_option("--max-grad-norm", opt->max_grad_norm, "Clip gradients to this global norm; 0: off (default 1)");
    cmd->add_option("--batch-size", opt->batch_size, "Sequences per micro-batch (default 4)");
    cmd->add_option("--grad-accum", opt->grad_accum, "Micro-batches per optimizer step (default 1)");
    cmd->add_option("--max-seq-len", opt->max_seq_len, "Longer examples are truncated (default 1024)");
    cmd->add_flag("--packing", opt->packing, "Pack several examples into each sequence (they never see each other)");
    cmd->add_flag("--checkpointing", opt->checkpointing, "Recompute each layer's activations in the backward (less memory)");
    cmd->add_option("--seed", opt->seed, "Seed of initialisation, data order and dropout (default 42)");
    cmd->add_option("--save-every", opt->save_every, "Steps between checkpoints (default: only at the end)");
    cmd->add_option("--resume", opt->resume, "Continue from a checkpoint directory (or the output directory's latest)");
    cmd->add_option("--threads,-t", opt->threads, "Worker threads (default: one per CPU)");
    cmd->add_flag("--json", opt->json, "One JSON metrics record per step on stdout, then a summary record");
    cmd->callback([opt] { run_finetune(*opt); });
}
