// MODEL arguments that take a path or a model name `org/name[@revision][:QUANT]`: a name is
// resolved to its files in the Hugging Face cache, pulled first when it is not there. Every verb
// that loads a model declares its MODEL arguments here, so nothing below tools/ sees a name.
#pragma once

#include <slm/hub.h>

#include <CLI/CLI.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace slm::cli {

// The local path for `arg`: `arg` itself when it exists (a path always wins over a name), or when
// it cannot be a model name (no '/', a .gguf/.safetensors file name, not org/name): the verb then
// reports the missing file. A name: its cached snapshot (or .gguf), with no request made; when it
// is not cached, pulled from the Hub (progress on stderr), or with `pull_missing` false an error
// saying how to get it. HF_HUB_OFFLINE=1 and the other HF_* variables apply (docs/models.md).
// `ref` (when given) receives the parsed name, or nullopt when `arg` was taken as a path.
std::string resolve_model_arg(const std::string& arg, bool pull_missing, std::optional<ModelRef>* ref = nullptr);

// The MODEL arguments of one verb and its --no-pull flag. Held in a shared_ptr captured by the
// verb's callback, whose first statement is resolve(): names are resolved after parsing (so
// `--help` never pulls) and before the verb sees its values.
class ModelArgs {
public:
    explicit ModelArgs(CLI::App* cmd);  // adds --no-pull
    ModelArgs(const ModelArgs&) = delete;
    ModelArgs& operator=(const ModelArgs&) = delete;

    // A MODEL option or positional (`name` as CLI11 takes it: "model", "--teacher") bound to `value`.
    CLI::Option* add(const std::string& name, std::string& value, const std::string& description);
    // Every value given becomes a local path (resolve_model_arg).
    void resolve();
    // The model name `value` was given as (after resolve()); nullopt when it was a path.
    std::optional<ModelRef> name_of(const std::string& value) const;

private:
    CLI::App* cmd_;
    bool no_pull_ = false;
    std::vector<std::string*> values_;
    std::map<const std::string*, ModelRef> names_;
};

}  // namespace slm::cli
