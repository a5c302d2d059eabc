// ServedAdapters: the LoRA adapters `slm serve --lora` loaded, as requests see them. Each has an id
// (its place among the --lora options), a name (requests say MODEL:NAME), its path and the scale
// given at start. The default scales, what a request that names no adapter gets, follow
// llama.cpp's server: every adapter at its start scale, or all at 0 with --lora-init-without-apply;
// POST /lora-adapters changes them while serving. Thread-safe.
#pragma once

#include "server/adapter_set.h"

#include <nlohmann/json_fwd.hpp>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace slm::server {

struct ServedAdapter {
    int id = 0;
    std::string name;
    std::string path;
    float scale = 1.0f;  // the --lora scale
};

class ServedAdapters {
public:
    ServedAdapters() = default;  // none loaded
    // Names must be unique, non-empty and not "latest" (ollama's tag for the base model):
    // slm::Error naming the option otherwise.
    ServedAdapters(std::vector<ServedAdapter> adapters, bool apply_at_start);

    const std::vector<ServedAdapter>& list() const { return adapters_; }
    const ServedAdapter* find(std::string_view name) const;  // null when no adapter has that name
    std::vector<float> default_scales() const;
    AdapterSet defaults() const { return AdapterSet::from_scales(default_scales()); }
    void set_default_scales(std::vector<float> scales);

    // llama.cpp's `[{"id": 0, "scale": 0.5}, …]` (a request's `lora`, POST /lora-adapters' body),
    // found at `path`: each listed adapter at its scale (no scale: its start scale), every other
    // one at 0. An unknown id, a repeated id or a bad shape is an ApiError 400 naming the entry.
    std::vector<float> parse_scales(const nlohmann::json& value, const std::string& path) const;
    // "0 = squad, 1 = style", for error messages.
    std::string describe() const;

private:
    std::vector<ServedAdapter> adapters_;
    mutable std::mutex mutex_;
    std::vector<float> defaults_;
};

}  // namespace slm::server
