// Training checkpoints: a directory `checkpoint-STEP/` holding the adapter (PEFT files), the
// optimizer's moments (optimizer.safetensors) and where the run stood (trainer_state.json: step,
// data position, metrics so far, and the options that must not change on resume). A checkpoint
// is written into `checkpoint-STEP.partial/` and renamed into place once every file is on disk,
// so a run killed while saving leaves the previous checkpoint whole.
#pragma once

#include <slm/lora_adapter.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace slm::train {

struct TrainerState {
    int64_t step = 0;            // optimizer steps done
    int epoch = 0;               // epoch of the next micro-batch
    int64_t batch_in_epoch = 0;  // index of the next micro-batch within that epoch's plan
    nlohmann::ordered_json history = nlohmann::ordered_json::array();       // one record per step
    nlohmann::ordered_json eval_history = nlohmann::ordered_json::array();  // {step, loss}
    nlohmann::ordered_json fingerprint;  // the options a resumed run must share
};

struct OptimizerMoments {
    std::vector<std::string> names;
    std::vector<std::vector<float>>* m = nullptr;
    std::vector<std::vector<float>>* v = nullptr;
};

// Writes checkpoint-STEP under `output_dir`; returns its path.
std::string save_checkpoint(const std::string& output_dir, const LoraAdapter& adapter,
                            const OptimizerMoments& moments, const TrainerState& state);

// Reads a checkpoint directory (or, given the output directory, its latest checkpoint): the
// adapter, the moments (into moments.m / .v, which must already have the right sizes) and the
// state. Errors name the file and what is wrong.
void load_checkpoint(const std::string& path, LoraAdapter& adapter, const OptimizerMoments& moments,
                     TrainerState& state);

// The latest complete checkpoint under `output_dir` ("" when none).
std::string latest_checkpoint(const std::string& output_dir);

}  // namespace slm::train
