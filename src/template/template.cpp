// slm::jinja::Template: parse once, render many times; turns internal EvalErrors into
// TemplateError naming the template, line and column.
#include <slm/jinja.h>

#include <nlohmann/json.hpp>

#include "template/eval_error.h"
#include "template/interpreter.h"
#include "template/json_value.h"
#include "template/parser.h"

namespace slm::jinja {

TemplateError::TemplateError(const std::string& template_name, int line, int column, const std::string& message)
    : Error(fmt::format("{}:{}:{}: {}", template_name, line, column, message)), line_(line), column_(column),
      message_(message) {}

struct Template::Parsed {
    Program program;
};

Template::Template(const std::string& source, std::string name, Limits limits)
    : parsed_(std::make_unique<Parsed>()), name_(std::move(name)), limits_(limits) {
    try {
        parsed_->program = parse(source);
    } catch (const EvalError& e) {
        throw TemplateError(name_, e.line, e.column, e.message);
    }
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const nlohmann::ordered_json& context) const {
    if (!context.is_object() && !context.is_null()) throw Error("template context must be a JSON object");
    Value values = context.is_null() ? Value::dict() : value_from_json(context);
    Interpreter interpreter(limits_);
    try {
        return interpreter.render(parsed_->program, *values.entries);
    } catch (const EvalError& e) {
        throw TemplateError(name_, e.line, e.column, e.message);
    }
}

}  // namespace slm::jinja
