// Names in MODEL arguments: an existing path stays a path; org/name[@rev][:QUANT] is looked up in
// the HF cache and pulled when missing (unless --no-pull), before the verb runs.
#include "model_arg.h"

#include <fmt/format.h>
#include <slm/error.h>

#include <cstdio>
#include <filesystem>

namespace slm::cli {
namespace {

// A value that names a file by its extension, or starts like a path, is never taken as a name:
// a mistyped "dir/model.gguf" should say "no such file", not ask the Hub for repository dir/model.gguf.
bool looks_like_path(const std::string& arg) {
    for (const char* prefix : {"/", "./", "../", "~"})
        if (arg.starts_with(prefix)) return true;
    for (const char* ext : {".gguf", ".safetensors", ".json", ".bin"})
        if (arg.ends_with(ext)) return true;
    return false;
}

}  // namespace

std::string resolve_model_arg(const std::string& arg, bool pull_missing, std::optional<ModelRef>* ref_out) {
    if (ref_out) ref_out->reset();
    std::error_code ec;
    if (arg.empty() || std::filesystem::exists(arg, ec) || looks_like_path(arg)) return arg;
    ModelRef ref;
    try {
        ref = parse_model_ref(arg);
    } catch (const Error&) {
        return arg;  // neither a path nor a name: the verb says the file is missing
    }
    if (ref_out) *ref_out = ref;
    const HubOptions hub = HubOptions::from_env();
    if (const auto cached = resolve_cached(ref, hub.cache_dir)) return *cached;
    if (!pull_missing)
        fail(
            "'{}' is not a file or directory, and model {} is not in the Hugging Face cache ({}); --no-pull was "
            "given: run `slm pull {}` first, or drop --no-pull",
            arg, ref.str(), hub.cache_dir, ref.str());
    if (!hub.offline)
        fmt::print(stderr, "{} is not in the cache ({}): pulling it from {}\n", ref.str(), hub.cache_dir, hub.endpoint);
    try {
        const PullResult r = pull(ref, PullOptions{}, hub);
        if (!r.note.empty() && r.downloaded_bytes == 0) fmt::print(stderr, "{}\n", r.note);
        return r.path;
    } catch (const Error& e) {
        fail("'{}' is not a file or directory, so it was taken as a model name: {}", arg, e.what());
    }
}

ModelArgs::ModelArgs(CLI::App* cmd) : cmd_(cmd) {
    cmd->add_flag("--no-pull", no_pull_,
                  "A model name (org/name) not in the Hugging Face cache is an error instead of being pulled");
}

CLI::Option* ModelArgs::add(const std::string& name, std::string& value, const std::string& description) {
    values_.push_back(&value);
    return cmd_
        ->add_option(name, value, description + "; or a model name org/name[@rev][:QUANT] (pulled when not cached)")
        ->type_name("MODEL");
}

void ModelArgs::resolve() {
    for (std::string* value : values_) {
        std::optional<ModelRef> ref;
        *value = resolve_model_arg(*value, !no_pull_, &ref);
        if (ref) names_[value] = *ref;
    }
}

std::optional<ModelRef> ModelArgs::name_of(const std::string& value) const {
    const auto it = names_.find(&value);
    if (it == names_.end()) return std::nullopt;
    return it->second;
}

}  // namespace slm::cli
