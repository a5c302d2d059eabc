// slm convert HF_DIR -o OUT.gguf [--type f32|f16|bf16|q8_0]: a Hugging Face model directory to a
// GGUF file that llama.cpp and slm load.
#include <CLI/CLI.hpp>
#include <slm/convert.h>
#include <slm/error.h>

#include <fmt/format.h>

void add_verb_convert(CLI::App& app) {
    struct Options {
        std::string input, output, type = "f16", name;
        int threads = 0;
    };
    auto opts = std::make_shared<Options>();
    CLI::App* cmd = app.add_subcommand("convert", "Convert a Hugging Face model directory to GGUF");
    cmd->add_option("HF_DIR", opts->input, "Hugging Face model directory (config.json, *.safetensors, tokenizer.json)")->required();
    cmd->add_option("-o,--output", opts->output, "GGUF file to write")->required();
    cmd->add_option("--type", opts->type, "Storage type of matrices (1-D tensors stay f32)")
        ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}));
    cmd->add_option("--name", opts->name, "general.name (default: the directory's name)");
    cmd->add_option("-t,--threads", opts->threads, "Threads (default: all cores)");
    cmd->callback([opts] {
        slm::ConvertOptions options;
        options.type = *slm::dtype_from_name(opts->type);
        options.name = opts->name;
        slm::ThreadPool pool(opts->threads);
        slm::convert_hf_to_gguf(opts->input, opts->output, options, &pool);
        fmt::print(stderr, "wrote {}\n", opts->output);
    });
}
