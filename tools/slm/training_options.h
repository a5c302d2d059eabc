// The options every training verb takes (finetune, train, distill: optimizer, schedule, batching,
// evaluation, checkpoints, reporting), added once, and the summary each prints at the end.
#pragma once

#include <slm/finetune.h>
#include <slm/training.h>

#include <CLI/CLI.hpp>

namespace slm::cli {

void add_training_options(CLI::App* cmd, TrainingOptions& options);
// --lora-r, --lora-alpha, --lora-dropout, --rslora, --target.
void add_lora_training_options(CLI::App* cmd, LoraTrainingOptions& options);
// The summary as text on stdout, or one JSON record (--json); `result` names what was written.
void print_training_summary(const TrainingSummary& s, const TrainingOptions& options, const char* result);

}  // namespace slm::cli
