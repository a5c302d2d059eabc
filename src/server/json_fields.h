// Typed reads of request JSON: each read checks the type and range of one field and throws an
// ApiError (400) whose message and `param` name the field by its full path ("messages[2].role").
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace slm::server {

// Parses a request body; malformed JSON or a non-object body is a 400 naming the position.
nlohmann::json parse_json_body(std::string_view body);
// The same for a body that may be any JSON value (POST /lora-adapters takes an array).
nlohmann::json parse_json_value(std::string_view body);

// The fields of one JSON object found at `path` ("" for the body itself).
class JsonFields {
public:
    JsonFields(const nlohmann::json& object, std::string path);

    // Absent or null fields read as nullopt; a present field of the wrong type is an error.
    std::optional<std::string> string(std::string_view key) const;
    std::optional<bool> boolean(std::string_view key) const;
    std::optional<double> number(std::string_view key, double min, double max) const;
    std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max) const;
    // The raw value (nullptr when absent or null), for fields of several allowed shapes.
    const nlohmann::json* get(std::string_view key) const;
    // A nested object, or nullopt when absent; an error when present but not an object.
    std::optional<JsonFields> object(std::string_view key) const;
    const std::string& path() const { return path_; }
    std::string path_of(std::string_view key) const;  // "stream_options.include_usage"
    const nlohmann::json& json() const { return *object_; }

private:
    const nlohmann::json* object_;
    std::string path_;
};

// "string", "number", "object", … as error messages name JSON types.
std::string json_type_name(const nlohmann::json& value);

}  // namespace slm::server
