// JSON in and out of template values: context data (messages, tools) becomes Values with their key
// order kept, and the tojson filter writes Python's json.dumps output exactly as transformers calls it.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>

#include "template/value.h"

namespace slm::jinja {

Value value_from_json(const nlohmann::ordered_json& j);

struct JsonDumpOptions {
    std::optional<std::string> indent;  // json.dumps(indent=…): spaces per level (an int becomes spaces)
    std::string item_separator = ", ";  // default separators, as json.dumps: (", ", ": "), or "," with indent
    std::string key_separator = ": ";
    bool sort_keys = false;
    bool ensure_ascii = false;  // transformers' tojson passes ensure_ascii=False
};

// json.dumps(value, …); throws EvalError "TypeError: Object of type X is not JSON serializable".
std::string json_dumps(const Value& value, const JsonDumpOptions& options);

}  // namespace slm::jinja
