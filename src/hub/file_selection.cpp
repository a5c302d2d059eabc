// File selection: a table of the small files a model needs, the weights by extension, and the
// GGUF quantization match. Pickle formats (.bin, .pt), TF, Flax and ONNX weights are never needed.
#include "hub/file_selection.h"

#include <fmt/format.h>
#include <fnmatch.h>
#include <slm/error.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <string_view>

namespace slm::hub {
namespace {

// Read from the repository's top level by slm's loaders (formats/, tokenizer/, template/).
constexpr std::array<std::string_view, 9> kModelFiles = {
    "config.json",           "generation_config.json",  "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
    "chat_template.jinja",   "chat_template.json",      "model.safetensors.index.json",
};

std::string upper(std::string_view s) {
    std::string u(s);
    std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    return u;
}

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

bool is_gguf(const std::string& path) { return upper(path).ends_with(".GGUF"); }

// Vision projectors ship beside the language model's GGUFs and are never the model itself.
bool is_projector(const std::string& path) { return upper(base_name(path)).starts_with("MMPROJ"); }

// "Q4_K" must not match "Q4_K_M" nor "IQ4_K": the tag stands between separators.
bool name_has_tag(const std::string& path, const std::string& tag) {
    const std::string name = upper(base_name(path)), t = upper(tag);
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    for (size_t i = name.find(t); i != std::string::npos; i = name.find(t, i + 1)) {
        const bool start_ok = i == 0 || !word(name[i - 1]);
        const size_t end = i + t.size();
        const bool end_ok = end == name.size() || (!word(name[end]) && name[end] != '_');
        if (start_ok && end_ok) return true;
    }
    return false;
}

// "model-Q4_K_M-00001-of-00003.gguf" -> "model-Q4_K_M"; other names unchanged.
std::string split_stem(const std::string& path) {
    const std::string name = path.substr(0, path.size() - 5);
    const auto of = name.rfind("-of-");
    if (of != std::string::npos && of >= 6 && name[of - 6] == '-' && name.size() - of == 9)
        return name.substr(0, of - 6);
    return name;
}

std::string describe_quants(const std::vector<std::string>& ggufs) {
    std::set<std::string> names;
    for (const auto& g : ggufs) names.insert(base_name(split_stem(g)));
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& path) {
    const std::string p = pattern.ends_with("/") ? pattern + "*" : pattern;
    return ::fnmatch(p.c_str(), path.c_str(), 0) == 0;
}

std::vector<std::string> choose_gguf(const std::vector<std::string>& paths, const std::string& quant,
                                     const std::string& repo, std::string* note) {
    std::vector<std::string> ggufs;
    for (const auto& p : paths)
        if (is_gguf(p) && !is_projector(p)) ggufs.push_back(p);
    std::sort(ggufs.begin(), ggufs.end());
    if (ggufs.empty()) return {};
    auto matching = [&](const std::string& tag) {
        std::vector<std::string> m;
        for (const auto& g : ggufs)
            if (name_has_tag(g, tag)) m.push_back(g);
        return m;
    };
    std::vector<std::string> found;
    std::string why;
    if (!quant.empty()) {
        found = matching(quant);
        if (found.empty())
            fail("{} has no .gguf file for quantization '{}'; it has: {}", repo, quant, describe_quants(ggufs));
    } else {
        for (const char* tag : {"Q4_K_M", "Q8_0"})
            if (found = matching(tag); !found.empty()) {
                why = fmt::format("{} by default", tag);
                break;
            }
        if (found.empty()) {
            found = {ggufs.front()};
            why = "the first, having no Q4_K_M or Q8_0";
        }
    }
    // Several matches: keep the shards of the first one (a split model is one choice).
    const std::string stem = split_stem(found.front());
    std::vector<std::string> chosen;
    for (const auto& g : found)
        if (split_stem(g) == stem) chosen.push_back(g);
    if (note && (ggufs.size() > chosen.size() || !why.empty())) {
        *note = fmt::format("{}: chose {}{}", repo, base_name(chosen.front()),
                            chosen.size() > 1 ? fmt::format(" ({} shards)", chosen.size()) : "");
        if (!why.empty()) *note += " (" + why + ")";
        if (ggufs.size() > chosen.size())
            *note += fmt::format("; available: {}; pick one with {}:QUANT", describe_quants(ggufs), repo);
    }
    return chosen;
}

FileSelection select_files(const std::vector<std::string>& paths, const std::string& quant,
                           const std::vector<std::string>& include, const std::vector<std::string>& exclude,
                           const std::string& repo) {
    FileSelection sel;
    const bool has_safetensors = std::any_of(paths.begin(), paths.end(), [](const std::string& p) {
        return p.find('/') == std::string::npos && upper(p).ends_with(".SAFETENSORS");
    });
    // A repository with both: the Hugging Face weights, unless a quantization tag asks for a GGUF.
    if (!quant.empty() || !has_safetensors) sel.gguf = choose_gguf(paths, quant, repo, &sel.note);
    if (!quant.empty() && sel.gguf.empty())
        fail("{} has no .gguf files, so ':{}' picks nothing (a quantization tag applies to GGUF repositories)", repo,
             quant);
    const std::set<std::string> gguf(sel.gguf.begin(), sel.gguf.end());
    auto needed = [&](const std::string& p) {
        if (!sel.gguf.empty()) return gguf.count(p) > 0;  // a GGUF file holds the tokenizer and template too
        if (std::find(kModelFiles.begin(), kModelFiles.end(), p) != kModelFiles.end()) return true;
        return p.find('/') == std::string::npos && upper(p).ends_with(".SAFETENSORS");
    };
    auto any = [&](const std::vector<std::string>& globs, const std::string& p) {
        return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return glob_match(g, p); });
    };
    for (const auto& p : paths)
        if (any(include, p) || (needed(p) && !any(exclude, p))) sel.files.push_back(p);
    std::sort(sel.files.begin(), sel.files.end());
    const bool has_weights = !sel.gguf.empty() || has_safetensors;
    if (sel.files.empty())
        fail("{}: nothing to download: no file is needed or matches --include ({} files in the repository)", repo,
             paths.size());
    if (!has_weights && include.empty())
        fail(
            "{} has no safetensors or GGUF weights (slm does not read .bin/.pt/.h5/ONNX); --include GLOB downloads "
            "files "
            "anyway",
            repo);
    return sel;
}

}  // namespace slm::hub
