// --lora for run, chat, perplexity, bench and eval task: parsing at the command line, loading and
// binding once the verb has its model.
#include "lora_option.h"

#include <fmt/format.h>

namespace slm::cli {

void add_lora_option(CLI::App* cmd, std::vector<std::string>& specs) {
    cmd->add_option("--lora", specs,
                    "LoRA adapter to apply: a PEFT directory or a GGUF LoRA file, optionally :SCALE (default 1); "
                    "repeatable, adapters add up")
        ->type_name("PATH[:SCALE]");
}

std::vector<LoraSpec> parse_lora_specs(const std::vector<std::string>& specs) {
    std::vector<LoraSpec> out;
    for (const std::string& s : specs) out.push_back(parse_lora_spec(s));
    return out;
}

LoraStack load_lora_option(const Model& model, const std::vector<std::string>& specs) {
    LoraStack stack = load_lora_stack(model, parse_lora_specs(specs));
    for (const LoraUse& use : stack.adapters())
        fmt::print(stderr, "lora: {} (scale {}, {} modules)\n", use.name, use.scale, use.adapter->modules.size());
    return stack;
}

}  // namespace slm::cli
