// slm convert HF_DIR -o OUT.gguf [--type f32|f16|bf16|q8_0]: a Hugging Face model directory to a
// GGUF file that llama.cpp and slm load. With --lora ADAPTER_DIR: a PEFT LoRA adapter to a
// llama.cpp LoRA GGUF for that base model (whose config alone is read).
#include <CLI/CLI.hpp>
#include <slm/convert.h>
#include <slm/error.h>
#include <slm/lora_gguf.h>

#include <fmt/format.h>

#include "model_arg.h"

void add_verb_convert(CLI::App& app) {
    struct Options {
        std::string input, output, type = "f16", name, lora;
        int threads = 0;
    };
    auto opts = std::make_shared<Options>();
    CLI::App* cmd = app.add_subcommand("convert", "Convert a Hugging Face model directory (or a PEFT LoRA adapter) to GGUF");
    auto models = std::make_shared<slm::cli::ModelArgs>(cmd);
    models->add("HF_DIR", opts->input,
                    "Hugging Face model directory (config.json, *.safetensors, tokenizer.json); with --lora, the base "
                    "model the adapter was trained on (an HF directory or a GGUF file)")
        ->required();
    cmd->add_option("-o,--output", opts->output, "GGUF file to write")->required();
    cmd->add_option("--type", opts->type,
                    "Storage type of matrices (1-D tensors stay f32); for --lora: f32, f16 or bf16")
        ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}));
    cmd->add_option("--name", opts->name, "general.name (default: the directory's name)");
    cmd->add_option("--lora", opts->lora,
                    "PEFT adapter directory (adapter_config.json, adapter_model.safetensors): write it as a llama.cpp "
                    "LoRA adapter (llama-cli --lora OUT.gguf) instead of converting the model");
    cmd->add_option("-t,--threads", opts->threads, "Threads (default: all cores)");
    cmd->footer(
        "Examples:\n"
        "  slm convert ./Llama-3.2-1B -o llama.gguf --type q8_0\n"
        "  slm convert ./Llama-3.2-1B --lora ./my-adapter -o my-adapter.gguf\n");
    cmd->callback([opts, models] {
        models->resolve();
        const slm::DType type = *slm::dtype_from_name(opts->type);
        if (!opts->lora.empty()) {
            if (type != slm::DType::f32 && type != slm::DType::f16 && type != slm::DType::bf16)
                slm::fail("slm convert --lora: --type {} is not supported for adapters (f32, f16 or bf16)", opts->type);
            slm::convert_peft_to_gguf_lora(opts->input, opts->lora, opts->output, type);
            fmt::print(stderr, "wrote {}\n", opts->output);
            return;
        }
        slm::ConvertOptions options;
        options.type = type;
        options.name = opts->name;
        slm::ThreadPool pool(opts->threads);
        slm::convert_hf_to_gguf(opts->input, opts->output, options, &pool);
        fmt::print(stderr, "wrote {}\n", opts->output);
    });
}
