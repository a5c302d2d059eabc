// Task runs: generate (or score log-likelihoods) with a model over a dataset, then score with the
// metrics of this module. Each run shows progress, writes results.json and prompts.jsonl (every
// exact prompt with the model's output and its score) into the output directory.
#pragma once

#include <slm/lora_files.h>

#include <string>
#include <vector>

namespace slm::eval {

enum class TaskKind {
    squad,            // SQuAD v1.1 JSON: greedy answer after "Answer:", EM/F1 as the official script
    summarize,        // JSONL {document, summary}: greedy summary after "TL;DR:", ROUGE-1/2/L/Lsum (stemmed)
    multiple_choice,  // JSONL {question, choices, answer}: log-likelihood of each choice, acc and acc_norm
};

struct TaskOptions {
    TaskKind kind = TaskKind::squad;
    std::string model_path, data_path;
    int limit = 0;       // 0: every example
    int shots = 0;       // solved examples before each one (squad, summarize)
    int max_tokens = 0;  // 0: the task's default (squad 32, summarize 64)
    std::string output_dir = "eval-results";
    int n_ctx = 0;       // 0: the model's context length
    int threads = 0;     // 0: all cores
    std::vector<LoraSpec> lora;  // adapters applied to the model (--lora)
    std::string device = "cpu";  // where the model runs: cpu, cuda or auto (device_from_name)
    int gpu_layers = -1;         // on the GPU: layers there, from the first (ModelOptions::gpu_layers)
    // Generation tasks: the prompt is sent as a user message through the model's chat template
    // (after `system`, when given, as a system message) and the answer generated as the assistant.
    bool chat = false;
    std::string system;
};

// Runs the task and returns the results JSON (also written to output_dir/results.json).
// Throws slm::Error for unreadable data or models.
std::string run_task(const TaskOptions& options);

}  // namespace slm::eval
