// Shared options and summary of the training verbs (training_options.h).
#include "training_options.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace slm::cli {

void add_training_options(CLI::App* cmd, TrainingOptions& o) {
    cmd->add_option("-o,--output", o.output, "Output directory (checkpoints go inside)")->required();
    cmd->add_option("--eval-data", o.eval_data, "Held-out data in the same formats")->check(CLI::ExistingFile);
    cmd->add_option("--eval-split", o.eval_split, "Fraction of --data held out for evaluation instead");
    cmd->add_option("--eval-every", o.eval_every, "Steps between evaluations (default: each epoch's end)");
    cmd->add_option("--eval-max", o.eval_max_examples, "Evaluate on at most this many examples (default: all)");
    cmd->add_option("--epochs", o.epochs, "Passes over the data (default 1)");
    cmd->add_option("--max-steps", o.max_steps, "Stop after this many optimizer steps (overrides --epochs)");
    cmd->add_option("--lr", o.lr, "Peak learning rate (default 2e-4)");
    cmd->add_option("--warmup", o.warmup, "Warmup: a fraction of the steps (< 1) or a number of steps (default 0.03)");
    cmd->add_option("--schedule", o.schedule, "cosine (default), linear or constant");
    cmd->add_option("--weight-decay", o.weight_decay, "AdamW weight decay (default 0)");
    cmd->add_option("--max-grad-norm", o.max_grad_norm, "Clip gradients to this global norm; 0: off (default 1)");
    cmd->add_option("--batch-size", o.batch_size, "Sequences per micro-batch (default 4)");
    cmd->add_option("--grad-accum", o.grad_accum, "Micro-batches per optimizer step (default 1)");
    cmd->add_option("--max-seq-len", o.max_seq_len, "Longer examples are truncated (default 1024)");
    cmd->add_flag("--packing", o.packing, "Pack several examples into each sequence (they never see each other)");
    cmd->add_flag("--checkpointing", o.checkpointing, "Recompute each layer's activations in the backward (less memory)");
    cmd->add_option("--seed", o.seed, "Seed of initialisation, data order and dropout (default 42)");
    cmd->add_option("--save-every", o.save_every, "Steps between checkpoints (default: only at the end)");
    cmd->add_option("--resume", o.resume, "Continue from a checkpoint directory (or the output directory's latest)");
    cmd->add_option("--threads,-t", o.threads, "Worker threads (default: one per CPU)");
    cmd->add_flag("--json", o.json, "One JSON metrics record per step on stdout, then a summary record");
}

void add_lora_training_options(CLI::App* cmd, LoraTrainingOptions& o) {
    cmd->add_option("--lora-r", o.r, "LoRA rank (default 16)");
    cmd->add_option("--lora-alpha", o.alpha, "LoRA alpha; scale = alpha / r (default 32)");
    cmd->add_option("--lora-dropout", o.dropout, "Dropout on each adapter's input (default 0.05)");
    cmd->add_flag("--rslora", o.use_rslora, "Rank-stabilized scale alpha / sqrt(r) (PEFT's use_rslora)");
    cmd->add_option("--target", o.targets,
                    "Modules to adapt: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj or all-linear "
                    "(default)");
}

void print_training_summary(const TrainingSummary& s, const TrainingOptions& options, const char* result) {
    const double ppl_before = std::exp(s.eval_loss_before), ppl_after = std::exp(s.eval_loss_after);
    if (options.json) {
        nlohmann::ordered_json j = {{"summary", true},
                                    {"steps", s.steps},
                                    {"train_loss", s.train_loss},
                                    {"eval_loss_before", s.eval_loss_before},
                                    {"eval_loss_after", s.eval_loss_after},
                                    {"eval_ppl_before", ppl_before},
                                    {"eval_ppl_after", ppl_after}};
        if (!std::isnan(s.teacher_eval_loss)) {
            j["teacher_eval_loss"] = s.teacher_eval_loss;
            j["teacher_eval_ppl"] = std::exp(s.teacher_eval_loss);
        }
        j["seconds"] = s.seconds;
        j["tokens_per_second"] = s.tokens_per_second;
        j["peak_rss_bytes"] = s.peak_rss_bytes;
        j[result] = s.output_dir;
        if (!s.gguf_path.empty()) j["gguf"] = s.gguf_path;
        j["plot"] = s.plot_path;
        fmt::print("{}\n", j.dump());
        return;
    }
    fmt::print("{}: {} (loss curves: {})\n", result, s.output_dir, s.plot_path);
    if (!s.gguf_path.empty()) fmt::print("gguf: {}\n", s.gguf_path);
    fmt::print("steps: {}  train loss: {:.4f}", s.steps, s.train_loss);
    if (!std::isnan(s.eval_loss_after))
        fmt::print("  eval loss: {:.4f} -> {:.4f} (perplexity {:.2f} -> {:.2f})", s.eval_loss_before,
                   s.eval_loss_after, ppl_before, ppl_after);
    if (!std::isnan(s.teacher_eval_loss))
        fmt::print("  teacher: {:.4f} (perplexity {:.2f})", s.teacher_eval_loss, std::exp(s.teacher_eval_loss));
    fmt::print("\ntime: {:.1f} s  {:.0f} tokens/s  peak RSS {:.0f} MiB\n", s.seconds, s.tokens_per_second,
               double(s.peak_rss_bytes) / (1 << 20));
}

}  // namespace slm::cli
