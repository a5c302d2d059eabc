// Cached models for the listing routes: slm::list_cached plus what ollama's details want, read
// from the snapshot's config.json or the .gguf file's name (no weights are opened).
#include "server/cached_models.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <slm/file_io.h>
#include <slm/gguf.h>
#include <slm/safetensors.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

namespace slm::server {
namespace {

std::string upper(std::string s) {
    for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf" -> "Q4_K_M": the last '-' or '.' separated part of the name.
std::string gguf_quantization(const std::string& path) {
    std::string stem = path.substr(path.rfind('/') + 1);
    stem = stem.substr(0, stem.size() - 5);
    const size_t cut = stem.find_last_of("-.");
    return upper(cut == std::string::npos ? stem : stem.substr(cut + 1));
}

// model_type and torch_dtype of the snapshot's config.json ("" when absent or unreadable).
void read_config(const std::string& snapshot, CachedModel& m) {
    const std::string path = snapshot + "/config.json";
    if (!file_exists(path)) return;
    const auto config = nlohmann::json::parse(read_text_file(path), nullptr, false);
    if (!config.is_object()) return;
    if (config.contains("model_type") && config["model_type"].is_string()) m.family = config["model_type"];
    if (config.contains("torch_dtype") && config["torch_dtype"].is_string()) {
        const std::string dtype = config["torch_dtype"];
        m.quantization = dtype == "bfloat16" ? "BF16" : dtype == "float16" ? "F16" : dtype == "float32" ? "F32" : "";
    }
}

// Elements of every tensor of the snapshot's weights: the safetensors (one or sharded), else the
// first .gguf. Only headers are parsed; an unreadable file counts as unknown (0).
int64_t count_parameters(const std::string& snapshot, const std::vector<std::string>& files) {
    std::unique_ptr<TensorSource> weights;
    try {
        const bool safetensors = std::any_of(files.begin(), files.end(),
                                             [](const std::string& f) { return f.ends_with(".safetensors"); });
        if (safetensors) {
            weights = open_safetensors(snapshot);
        } else {
            const auto gguf = std::find_if(files.begin(), files.end(),
                                           [](const std::string& f) { return f.ends_with(".gguf"); });
            if (gguf == files.end()) return 0;
            weights = GgufFile::open(snapshot + "/" + *gguf);
        }
        int64_t n = 0;
        for (const auto& name : weights->tensor_names())
            if (const auto t = weights->find_tensor(name)) n += t->numel();
        return n;
    } catch (const std::exception&) {
        return 0;
    }
}

}  // namespace

std::string parameter_size_text(int64_t parameter_count) {
    if (parameter_count <= 0) return "";
    const double billions = double(parameter_count) / 1e9;
    return billions >= 1.0 ? fmt::format("{:.1f}B", billions) : fmt::format("{:.0f}M", double(parameter_count) / 1e6);
}

std::vector<CachedModel> cached_models(const HubOptions& hub, const std::string& skip_id) {
    std::vector<CachedModel> out;
    for (const CachedRepo& repo : list_cached(hub.cache_dir)) {
        if (repo.repo == skip_id) continue;
        // The revision "main" names (what `slm run org/name` uses), else any that holds weights.
        const CachedRevision* rev = nullptr;
        for (const auto& r : repo.revisions)
            if (!r.format.empty() && (!rev || std::find(r.refs.begin(), r.refs.end(), "main") != r.refs.end()))
                rev = &r;
        if (!rev) continue;
        CachedModel m;
        m.id = repo.repo;
        m.owner = repo.repo.substr(0, repo.repo.find('/'));
        m.modified = repo.last_used;
        m.modified_at = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", fmt::gmtime(std::time_t(repo.last_used)));
        m.size = repo.size_on_disk;
        m.digest = rev->commit;
        m.format = rev->format;
        const std::string snapshot = repo.path + "/snapshots/" + rev->commit;
        read_config(snapshot, m);
        m.parameter_count = count_parameters(snapshot, rev->files);
        if (m.quantization.empty())
            for (const auto& f : rev->files)
                if (f.ends_with(".gguf")) {
                    m.quantization = gguf_quantization(f);
                    break;
                }
        out.push_back(std::move(m));
    }
    return out;
}

}  // namespace slm::server
