// `slm merge MODEL --lora ADAPTER[:SCALE] -o OUT`: the adapters folded into the base's weights,
// written as an HF directory or (OUT ending in .gguf) a GGUF of --type (slm/merge.h).
#include <CLI/CLI.hpp>
#include <slm/merge.h>
#include <slm/thread_pool.h>

#include <fmt/format.h>

#include <memory>

#include "lora_option.h"
#include "model_arg.h"

void add_verb_merge(CLI::App& app) {
    struct Options {
        std::string model;
        std::vector<std::string> lora;
        std::string output, type;
        int threads = 0;
    };
    auto opt = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("merge", "Fold LoRA adapters into a model: an HF directory or a GGUF");
    auto models = std::make_shared<slm::cli::ModelArgs>(cmd);
    models->add("model", opt->model, "Base model: the HF directory the adapters were trained on")->required();
    slm::cli::add_lora_option(cmd, opt->lora);
    cmd->add_option("-o,--output", opt->output, "Output: a directory (HF: safetensors + config + tokenizer) or FILE.gguf")
        ->required();
    cmd->add_option("--type", opt->type,
                    "HF: f32, f16 or bf16 (default: the base's); GGUF: f32, f16, bf16 or q8_0 (default f16)");
    cmd->add_option("--threads,-t", opt->threads, "Worker threads (default: one per CPU)");
    cmd->footer(
        "\nExamples:\n"
        "  slm merge ./Qwen2.5-0.5B --lora ./my-adapter -o ./Qwen2.5-0.5B-tuned\n"
        "  slm merge ./Qwen2.5-0.5B --lora ./my-adapter -o tuned-q8_0.gguf --type q8_0\n");
    cmd->callback([opt, models] {
        if (opt->lora.empty()) throw CLI::RequiredError("--lora");
        models->resolve();
        slm::MergeOptions merge;
        merge.adapters = slm::cli::parse_lora_specs(opt->lora);
        merge.output = opt->output;
        merge.type = opt->type;
        slm::ThreadPool pool(opt->threads);
        slm::merge_lora(opt->model, merge, pool);
        fmt::print("merged {} adapter{} into {}\n", merge.adapters.size(), merge.adapters.size() == 1 ? "" : "s",
                   merge.output);
    });
}
