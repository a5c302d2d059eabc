// `slm distill --teacher T (--student S | --student-init layers:0,2,4) --data D -o OUT`: knowledge
// distillation (slm/distill.h); `--cache-teacher FILE` writes the teacher's top-k logits once,
// `--teacher-cache FILE` trains from them.
#include <CLI/CLI.hpp>
#include <slm/distill.h>

#include "training_options.h"

#include <fmt/format.h>

#include <memory>

#include "model_arg.h"

void add_verb_distill(CLI::App& app) {
    using namespace slm;
    auto opt = std::make_shared<DistillOptions>();
    auto* cmd = app.add_subcommand("distill", "Distill a teacher model into a smaller student");
    auto models = std::make_shared<cli::ModelArgs>(cmd);
    models->add("--teacher", opt->teacher, "Teacher: HF directory or GGUF file")->required();
    models->add("--student", opt->student, "Student: HF directory sharing the teacher's tokenizer");
    cmd->add_option("--student-init", opt->student_init,
                    "Make the student of these teacher layers instead: layers:0,2,4 (teacher as HF directory)");
    cmd->add_option("--data", opt->data,
                    "Training data: JSONL ({\"text\"}, {\"prompt\",\"completion\"}, Alpaca, {\"messages\"}) or .txt")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--alpha", opt->alpha, "Weight of the teacher's soft targets (KL); 1 - alpha weighs CE (default 0.5)");
    cmd->add_option("--temperature", opt->temperature, "Softmax temperature of both distributions (default 2)");
    cmd->add_flag("--lora", opt->lora, "Train a LoRA adapter on the student instead of every weight");
    cli::add_lora_training_options(cmd, opt->lora_options);
    cmd->add_option("--cache-teacher", opt->cache_teacher,
                    "Write the teacher's top-k logits of --data to this file and stop");
    cmd->add_option("--teacher-cache", opt->teacher_cache, "Read the teacher's logits from this cache")
        ->check(CLI::ExistingFile);
    cmd->add_option("--top-k", opt->top_k, "Logits kept per position in a cache (default 64)");
    cmd->add_option("--save-dtype", opt->save_dtype, "Student model: f32, f16 or bf16 (default: its config's)");
    cmd->add_option("--gguf", opt->gguf_type, "Also write OUT/model-TYPE.gguf (f16, q8_0, q4_k, …)");
    // -o is not needed to write a cache: the training options' -o is required, so take it apart.
    cli::add_training_options(cmd, *opt);
    cmd->get_option("--output")->required(false);
    cmd->callback([opt, models] {
        models->resolve();
        const TrainingSummary s = distill(*opt);
        if (!opt->cache_teacher.empty()) {
            fmt::print("teacher cache: {} ({:.1f} s)\n", s.output_dir, s.seconds);
            return;
        }
        cli::print_training_summary(s, *opt, opt->lora ? "adapter" : "model");
    });
}
