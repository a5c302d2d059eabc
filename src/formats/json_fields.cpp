// JsonFields: typed optional field reads with errors naming file and field (see json_fields.h).
#include "formats/json_fields.h"

#include <slm/error.h>

#include <cmath>
#include <limits>

namespace slm::formats {

using nlohmann::json;

json parse_json_object(const std::string& text, const std::string& source) {
    json value;
    try {
        value = json::parse(text);
    } catch (const json::exception& e) {
        fail("{}: invalid JSON: {}", source, e.what());
    }
    if (!value.is_object()) fail("{}: expected a JSON object, found {}", source, value.type_name());
    return value;
}

const json* JsonFields::find(std::string_view key) const {
    const auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
}

void JsonFields::wrong_type(std::string_view key, std::string_view expected) const {
    const json* v = find(key);
    fail("{}: field '{}' must be {}, found {}", source_, key, expected, v ? v->dump() : std::string("null"));
}

std::optional<int64_t> JsonFields::integer(std::string_view key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_number_integer()) {
        if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
            wrong_type(key, "a 64-bit integer");
        return v->get<int64_t>();
    }
    // A float that holds an integer (1024.0) is accepted: some tools write them.
    if (v->is_number_float()) {
        const double d = v->get<double>();
        if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.0e15) return int64_t(d);
    }
    wrong_type(key, "an integer");
}

std::optional<int> JsonFields::int32(std::string_view key) const {
    const auto v = integer(key);
    if (!v) return std::nullopt;
    if (*v < std::numeric_limits<int>::min() || *v > std::numeric_limits<int>::max()) wrong_type(key, "a 32-bit integer");
    return int(*v);
}

std::optional<double> JsonFields::number(std::string_view key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) wrong_type(key, "a number");
    return v->get<double>();
}

std::optional<bool> JsonFields::boolean(std::string_view key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) wrong_type(key, "true or false");
    return v->get<bool>();
}

std::optional<std::string> JsonFields::string(std::string_view key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) wrong_type(key, "a string");
    return v->get<std::string>();
}

const json* JsonFields::object(std::string_view key) const {
    const json* v = find(key);
    if (v && !v->is_object()) wrong_type(key, "an object");
    return v;
}

std::vector<int> JsonFields::int_list(std::string_view key) const {
    const json* v = find(key);
    if (!v) return {};
    if (!v->is_array()) return {*int32(key)};
    std::vector<int> out;
    for (const auto& item : *v) {
        if (!item.is_number_integer() || item.get<int64_t>() < std::numeric_limits<int>::min() ||
            item.get<int64_t>() > std::numeric_limits<int>::max())
            wrong_type(key, "an integer or a list of integers");
        out.push_back(item.get<int>());
    }
    return out;
}

}  // namespace slm::formats
