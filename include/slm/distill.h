// Knowledge distillation (`slm distill`): a student trained to imitate a teacher that shares its
// tokenizer, on loss = (1 - alpha)·CE(data) + alpha·temperature²·KL(softmax(teacher/temperature) ‖
// softmax(student/temperature)) (Hinton et al.). The student is trained fully (an HF directory
// out) or with LoRA (a PEFT adapter out); it is a given model, or made from a subset of the
// teacher's layers (`--student-init layers:0,2,4`, as DistilBERT was). The teacher runs in the same
// process, or its top-k logits per position are cached once (`--cache-teacher FILE`) and read by
// later runs (`--teacher-cache FILE`).
#pragma once

#include <slm/training.h>

#include <string>

namespace slm {

struct DistillOptions : TrainingOptions {
    std::string teacher;          // HF directory or GGUF file
    std::string student;          // HF directory; or empty with student_init
    std::string student_init;     // "layers:0,2,4": the student made of these teacher layers
    std::string data;             // the fine-tuning data formats (.jsonl or .txt)
    double alpha = 0.5;
    double temperature = 2.0;
    bool lora = false;            // train a LoRA adapter on the student instead of every weight
    LoraTrainingOptions lora_options;
    std::string cache_teacher;    // write the teacher's top-k logits of --data here, and stop
    std::string teacher_cache;    // read the teacher's logits from this cache instead of running it
    int top_k = 64;               // logits kept per position in a cache
    std::string save_dtype;       // the student model's storage type (default: its config's)
    std::string gguf_type;        // also write OUTPUT/model-TYPE.gguf when set
};

// Runs a distillation, or with cache_teacher only writes the cache (the summary's output_dir is
// then the cache's path). Throws slm::Error on bad input: a student whose tokenizer is not the
// teacher's, a cache of another teacher or data, layers the teacher does not have.
TrainingSummary distill(const DistillOptions& options);

}  // namespace slm
