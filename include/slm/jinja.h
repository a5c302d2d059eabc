// slm::jinja: our own interpreter for the Jinja2 subset that chat templates use, rendering exactly
// as Hugging Face transformers' environment does (trim_blocks, lstrip_blocks, its tojson,
// raise_exception and strftime_now). JSON values in, a string out; bounded work on any input.
#pragma once

#include <slm/error.h>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace slm::jinja {

// Bounds that make hostile templates fail cleanly instead of hanging or exhausting memory.
struct Limits {
    int64_t max_steps = 5'000'000;   // evaluation steps: nodes, loop iterations, bytes built / 64
    size_t max_output = 16u << 20;   // bytes of any one string built or rendered
    int max_call_depth = 200;        // nested macro calls
};

// A syntax or evaluation error, with the template line and column where it happened.
// what(): "NAME:LINE:COLUMN: KIND: DETAIL", e.g. "chat_template:12:8: TypeError: can only concatenate str …".
class TemplateError : public Error {
public:
    TemplateError(const std::string& template_name, int line, int column, const std::string& message);
    int line() const { return line_; }
    int column() const { return column_; }
    // Without the place: "TemplateError: <raise_exception's text>", "UndefinedError: 'x' is undefined", …
    const std::string& message() const { return message_; }

private:
    int line_, column_;
    std::string message_;
};

class Template {
public:
    // Parses `source`; throws TemplateError on a syntax error. `name` names the template in errors.
    explicit Template(const std::string& source, std::string name = "template", Limits limits = {});
    ~Template();
    Template(Template&&) noexcept;
    Template& operator=(Template&&) noexcept;

    // Renders with the members of `context` (a JSON object) as variables; throws TemplateError.
    std::string render(const nlohmann::ordered_json& context) const;

private:
    struct Parsed;
    std::unique_ptr<Parsed> parsed_;
    std::string name_;
    Limits limits_;
};

}  // namespace slm::jinja
