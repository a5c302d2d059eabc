// Training checkpoints: a directory `checkpoint-STEP/` holding the trained tensors in the form of
// the run's result (a PEFT adapter: adapter_model.safetensors + adapter_config.json; a whole model:
// model.safetensors in f32 + config.json + tokenizer files), the optimizer's moments
// (optimizer.safetensors) and where the run stood (trainer_state.json: step, data position,
// metrics so far, and the options that must not change on resume). A checkpoint
// is written into `checkpoint-STEP.partial/` and renamed into place once every file is on disk,
// so a run killed while saving leaves the previous checkpoint whole.
#pragma once


#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
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

// The trained tensors: each a name, its values and shape (TrainModel::parameters()), stored in
// `weights_file` ("adapter_model.safetensors" or "model.safetensors"); `write_side_files` writes
// what makes the directory loadable as such (adapter_config.json, or config.json and tokenizer).
struct CheckpointTensor {
    std::string name;
    float* value;
    int64_t size;
    std::vector<int64_t> shape;
    int64_t permuted_head_dim = 0;  // TrainModel::Parameter's: rows go back to HF order on disk
};
struct CheckpointWeights {
    std::vector<CheckpointTensor> tensors;
    std::string weights_file;
    std::function<void(const std::string& dir)> write_side_files;
};

// Writes checkpoint-STEP under `output_dir`; returns its path.
std::string save_checkpoint(const std::string& output_dir, const CheckpointWeights& weights,
                            const OptimizerMoments& moments, const TrainerState& state);

// Reads a checkpoint directory (or, given the output directory, its latest checkpoint) into the
// tensors' values, the moments (into moments.m / .v, which must already have the right sizes) and
// the state. Errors name the file and what is wrong (a missing tensor, another size).
void load_checkpoint(const std::string& path, const CheckpointWeights& weights, const OptimizerMoments& moments,
                     TrainerState& state);

// The latest complete checkpoint under `output_dir` ("" when none).
std::string latest_checkpoint(const std::string& output_dir);

}  // namespace slm::train
