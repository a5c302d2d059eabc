// What every training run shares (`slm finetune`, `slm train`, `slm distill`): the optimizer and
// its schedule, batching, evaluation, checkpoints and reporting options, and the summary a run
// ends with. The loop itself is src/train/trainer.h (DESIGN.md, "Training").
#pragma once

#include <cstdint>
#include <string>

namespace slm {

struct TrainingOptions {
    std::string eval_data;        // held-out file; or eval_split of the training data
    double eval_split = 0.0;
    std::string output;           // the output directory (checkpoints go inside it)

    int epochs = 1;
    int64_t max_steps = 0;        // > 0: stop after this many optimizer steps (overrides epochs)
    double lr = 2e-4;
    double warmup = 0.03;         // fraction of the steps (< 1) or a number of steps (>= 1)
    std::string schedule = "cosine";
    double weight_decay = 0.0;
    double max_grad_norm = 1.0;
    int64_t batch_size = 4;       // sequences per micro-batch
    int64_t grad_accum = 1;       // micro-batches per optimizer step
    int64_t max_seq_len = 1024;
    bool packing = false;
    bool checkpointing = false;   // recompute each layer's activations in the backward
    uint64_t seed = 42;
    int64_t save_every = 0;       // optimizer steps between checkpoints (0: only at the end)
    int64_t eval_every = 0;       // optimizer steps between evaluations (0: before, each epoch end)
    int64_t eval_max_examples = 0; // 0: all
    std::string resume;           // a checkpoint directory, or the output directory (latest checkpoint)
    int threads = 0;              // 0: one per core
    bool json = false;            // one JSON metrics record per step on stdout
    bool progress = true;
};

// The LoRA adapter a run trains (PEFT's LoraConfig fields).
struct LoraTrainingOptions {
    int r = 16;
    double alpha = 32;
    double dropout = 0.05;
    bool use_rslora = false;
    std::string targets = "all-linear";
};

struct TrainingSummary {
    int64_t steps = 0;
    double train_loss = 0;        // mean of the last epoch's steps (or of all steps when fewer)
    double eval_loss_before = 0, eval_loss_after = 0;  // NaN when there is no eval data
    double teacher_eval_loss = 0; // distillation: the teacher's loss on the eval data (NaN otherwise)
    double seconds = 0;
    double tokens_per_second = 0; // training tokens (all tokens of the batches) per second
    int64_t peak_rss_bytes = 0;
    std::string output_dir, plot_path;
    std::string gguf_path;        // when a GGUF was written too
};

}  // namespace slm
