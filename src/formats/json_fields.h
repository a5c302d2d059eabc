// JsonFields: typed, optional reads of a JSON object's fields for the config parsers; a null or
// absent field is "not set", a field of the wrong type is an slm::Error naming the file and field.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slm::formats {

// Parses `text` as a JSON object; errors name `source` and say where the JSON breaks.
nlohmann::json parse_json_object(const std::string& text, const std::string& source);

class JsonFields {
public:
    JsonFields(const nlohmann::json& object, std::string source) : object_(object), source_(std::move(source)) {}

    const nlohmann::json* find(std::string_view key) const;  // nullptr when absent or null
    std::optional<int64_t> integer(std::string_view key) const;
    std::optional<int> int32(std::string_view key) const;  // integer that fits an int
    std::optional<double> number(std::string_view key) const;
    std::optional<bool> boolean(std::string_view key) const;
    std::optional<std::string> string(std::string_view key) const;
    const nlohmann::json* object(std::string_view key) const;  // nullptr when absent or null
    // An integer or a list of integers (eos_token_id); empty when absent or null.
    std::vector<int> int_list(std::string_view key) const;
    const std::string& source() const { return source_; }

    [[noreturn]] void wrong_type(std::string_view key, std::string_view expected) const;

private:
    const nlohmann::json& object_;
    std::string source_;
};

}  // namespace slm::formats
