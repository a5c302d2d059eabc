// `--lora PATH[:SCALE]` (repeatable), shared by the verbs that run a model: the option itself and
// the adapter stack it gives once the model is loaded.
#pragma once

#include <slm/lora_files.h>
#include <slm/model.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace slm::cli {

// Adds --lora to `cmd`, collecting its values (PATH[:SCALE], unparsed) into `specs`.
void add_lora_option(CLI::App* cmd, std::vector<std::string>& specs);

// The specs parsed (parse_lora_spec).
std::vector<LoraSpec> parse_lora_specs(const std::vector<std::string>& specs);

// The adapters of `specs` loaded and bound to `model` (empty stack when there are none); one line
// per adapter on stderr says what was applied.
LoraStack load_lora_option(const Model& model, const std::vector<std::string>& specs);

}  // namespace slm::cli
