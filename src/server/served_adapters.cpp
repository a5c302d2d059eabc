// ServedAdapters: the loaded adapters' ids and names, the default scales, and the parsing of
// llama.cpp's [{"id", "scale"}] lists with errors that name the entry.
#include "server/served_adapters.h"

#include "server/api_error.h"
#include "server/json_fields.h"

#include <slm/error.h>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

namespace slm::server {

ServedAdapters::ServedAdapters(std::vector<ServedAdapter> adapters, bool apply_at_start)
    : adapters_(std::move(adapters)) {
    for (size_t i = 0; i < adapters_.size(); ++i) {
        const auto& a = adapters_[i];
        if (a.name.empty() || a.name == "latest")
            fail("serve: --lora {}: the adapter name '{}' cannot be used (give one as NAME=PATH)", a.path, a.name);
        for (size_t j = 0; j < i; ++j)
            if (adapters_[j].name == a.name)
                fail("serve: --lora {} and --lora {} are both named '{}'; name them apart with NAME=PATH",
                     adapters_[j].path, a.path, a.name);
        defaults_.push_back(apply_at_start ? a.scale : 0.0f);
    }
}

const ServedAdapter* ServedAdapters::find(std::string_view name) const {
    for (const auto& a : adapters_)
        if (a.name == name) return &a;
    return nullptr;
}

std::vector<float> ServedAdapters::default_scales() const {
    std::lock_guard lock(mutex_);
    return defaults_;
}

void ServedAdapters::set_default_scales(std::vector<float> scales) {
    std::lock_guard lock(mutex_);
    defaults_ = std::move(scales);
}

std::string ServedAdapters::describe() const {
    if (adapters_.empty()) return "none; start the server with --lora PATH";
    std::string out;
    for (const auto& a : adapters_) out += fmt::format("{}{} = {}", out.empty() ? "" : ", ", a.id, a.name);
    return out;
}

std::vector<float> ServedAdapters::parse_scales(const nlohmann::json& value, const std::string& path) const {
    if (!value.is_array())
        throw_invalid(path, fmt::format("'{}' must be an array of {{\"id\", \"scale\"}} objects, not {}", path,
                                        json_type_name(value)));
    std::vector<float> scales(adapters_.size(), 0.0f);
    std::vector<bool> seen(adapters_.size(), false);
    for (size_t i = 0; i < value.size(); ++i) {
        const std::string entry = fmt::format("{}[{}]", path, i);
        if (!value[i].is_object())
            throw_invalid(entry, fmt::format("'{}' must be an object with 'id' and 'scale', not {}", entry,
                                             json_type_name(value[i])));
        JsonFields fields(value[i], entry);
        const auto id = fields.integer("id", INT32_MIN, INT32_MAX);
        if (!id) throw_invalid(entry + ".id", fmt::format("'{}.id' is required", entry));
        if (*id < 0 || *id >= int64_t(adapters_.size()))
            throw ApiError(400,
                           fmt::format("'{}.id' is {}: this server has no LoRA adapter with that id (loaded: {})", entry,
                                       *id, describe()),
                           "invalid_request_error", entry + ".id", "adapter_not_found");
        if (seen[size_t(*id)])
            throw_invalid(entry + ".id", fmt::format("'{}.id': adapter {} is listed twice", entry, *id));
        seen[size_t(*id)] = true;
        const auto scale = fields.number("scale", -1e6, 1e6);
        scales[size_t(*id)] = scale ? float(*scale) : adapters_[size_t(*id)].scale;
    }
    return scales;
}

}  // namespace slm::server
