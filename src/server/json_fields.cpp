// JsonFields: request field validation with errors that name the field, its expected type and range.
#include "server/json_fields.h"

#include "server/api_error.h"

#include <fmt/format.h>

namespace slm::server {

nlohmann::json parse_json_value(std::string_view body) {
    nlohmann::json value = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        // Re-parse with exceptions only to learn where it failed.
        std::string where;
        try {
            const auto strict = nlohmann::json::parse(body);
            (void)strict;
        } catch (const nlohmann::json::parse_error& e) {
            where = fmt::format(" (byte {})", e.byte);
        }
        throw ApiError(400,
                       fmt::format("We could not parse the JSON body of your request{}: the body must be "
                                   "valid JSON",
                                   where),
                       "invalid_request_error");
    }
    return value;
}

nlohmann::json parse_json_body(std::string_view body) {
    nlohmann::json value = parse_json_value(body);
    if (!value.is_object())
        throw ApiError(400, fmt::format("The request body must be a JSON object, not {}", json_type_name(value)),
                       "invalid_request_error");
    return value;
}

std::string json_type_name(const nlohmann::json& value) {
    switch (value.type()) {
        case nlohmann::json::value_t::null: return "null";
        case nlohmann::json::value_t::object: return "an object";
        case nlohmann::json::value_t::array: return "an array";
        case nlohmann::json::value_t::string: return "a string";
        case nlohmann::json::value_t::boolean: return "a boolean";
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned: return "an integer";
        case nlohmann::json::value_t::number_float: return "a number";
        default: return "a value of unknown type";
    }
}

JsonFields::JsonFields(const nlohmann::json& object, std::string path) : object_(&object), path_(std::move(path)) {
    if (!object.is_object())
        throw_invalid(path_, fmt::format("'{}' must be an object, not {}", path_, json_type_name(object)));
}

std::string JsonFields::path_of(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
}

const nlohmann::json* JsonFields::get(std::string_view key) const {
    auto it = object_->find(key);
    if (it == object_->end() || it->is_null()) return nullptr;
    return &*it;
}

std::optional<std::string> JsonFields::string(std::string_view key) const {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string())
        throw_invalid(path_of(key), fmt::format("'{}' must be a string, not {}", path_of(key), json_type_name(*v)));
    return v->get<std::string>();
}

std::optional<bool> JsonFields::boolean(std::string_view key) const {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean())
        throw_invalid(path_of(key), fmt::format("'{}' must be a boolean, not {}", path_of(key), json_type_name(*v)));
    return v->get<bool>();
}

std::optional<double> JsonFields::number(std::string_view key, double min, double max) const {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number())
        throw_invalid(path_of(key), fmt::format("'{}' must be a number, not {}", path_of(key), json_type_name(*v)));
    const double x = v->get<double>();
    if (!(x >= min && x <= max))
        throw_invalid(path_of(key), fmt::format("'{}' is {}, but must be between {} and {}", path_of(key), x, min, max));
    return x;
}

std::optional<int64_t> JsonFields::integer(std::string_view key, int64_t min, int64_t max) const {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    // 5.0 is accepted as 5, as Python-based servers accept it; 5.5 is not an integer.
    bool integral = v->is_number_integer();
    if (v->is_number_float()) {
        const double d = v->get<double>();
        integral = d == double(int64_t(d));
    }
    if (!integral)
        throw_invalid(path_of(key), fmt::format("'{}' must be an integer, not {}", path_of(key), json_type_name(*v)));
    int64_t x = 0;
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX))
        x = INT64_MAX;
    else
        x = v->is_number_float() ? int64_t(v->get<double>()) : v->get<int64_t>();
    if (x < min || x > max)
        throw_invalid(path_of(key), fmt::format("'{}' is {}, but must be between {} and {}", path_of(key), x, min, max));
    return x;
}

std::optional<JsonFields> JsonFields::object(std::string_view key) const {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    return JsonFields(*v, path_of(key));
}

}  // namespace slm::server
