// The training loop every verb runs (finetune, train, distill): data → micro-batches →
// TrainModel forward/backward → clipped AdamW step on the schedule's learning rate, with
// evaluation, atomic checkpoints, progress, per-step JSON metrics and the loss-curve picture.
// Everything that decides the result is a function of the options and the seed (data order,
// initialisation, dropout masks), so a resumed run ends where one that never stopped ends.
#pragma once

#include <slm/thread_pool.h>
#include <slm/training.h>

#include "train/checkpoint.h"
#include "train/dataset.h"
#include "train/train_model.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace slm::train {

struct TrainerSetup {
    TrainModel* model = nullptr;
    const Dataset* train = nullptr;
    const Dataset* eval = nullptr;  // may be empty
    TrainingOptions options;
    float lora_dropout = 0.0f;      // dropout on the adapters' inputs
    // The options a resumed run must share with the run that wrote the checkpoint.
    nlohmann::ordered_json fingerprint;
    std::string verb;               // "finetune", "train", "distill": progress label
    std::string plot_title;
    // How checkpoints store the trained tensors (CheckpointWeights without the tensors, which
    // come from the model).
    std::string weights_file;
    std::function<void(const std::string& dir)> write_side_files;
    // Distillation: the teacher's targets for a micro-batch made of these rows of example indices
    // (null function: plain cross-entropy). The targets stay valid until the next call.
    std::function<const TeacherTargets*(const std::vector<std::vector<size_t>>& rows, const TrainBatch& batch)>
        teacher;
    double teacher_eval_loss = 0;   // drawn on the picture when not NaN
};

// Trains (resuming from options.resume when set), writes a checkpoint every save_every steps and
// one at the end, and the loss curves as OUTPUT/loss.svg. The caller writes the result itself.
TrainingSummary run_training(const TrainerSetup& setup, ThreadPool& pool);

// Mean loss (cross-entropy of the targets) of `model` over `data`, in micro-batches of batch_size
// rows (one example per row); NaN when `data` is empty.
double evaluate_loss(TrainModel& model, const Dataset& data, int64_t batch_size, int64_t max_seq_len,
                     int64_t max_examples, ThreadPool* pool);

// The training data (several files are concatenated, in order) and the eval data (--eval-data,
// or --eval-split of the training data), tokenized with `tokenizer` (and `chat`, may be null).
struct TrainingData {
    Dataset train, eval;
};
TrainingData load_training_data(const std::vector<std::string>& paths, const Tokenizer& tokenizer,
                                const ChatTemplate* chat, const TrainingOptions& options);

// Checks what every run checks of its TrainingOptions.
void check_training_options(const TrainingOptions& o);
// Checks the LoRA options (--lora-r, --lora-alpha, --lora-dropout) and makes PEFT's config of them
// for a base named `base` (its target modules come with the adapter: init_adapter).
void check_lora_options(const LoraTrainingOptions& o);
LoraConfig lora_config(const LoraTrainingOptions& o, const std::string& base);

// The options a resumed run must share with the run that wrote its checkpoint, as JSON: those of
// the loop (anything that changes the data order or the update rule) and of a LoRA adapter. Each
// verb adds its own (model, data, …) to these.
nlohmann::ordered_json loop_fingerprint(const TrainingOptions& o);
nlohmann::ordered_json lora_fingerprint(const LoraTrainingOptions& o);

int64_t peak_rss_bytes();

}  // namespace slm::train
