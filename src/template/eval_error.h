// EvalError: a failure while parsing or rendering, thrown inside the interpreter; the renderer
// turns it into slm::jinja::TemplateError with the template line and column of the failing node.
#pragma once

#include <fmt/format.h>

#include <string>

namespace slm::jinja {

struct EvalError {
    std::string message;  // Python-style: "TypeError: …", "UndefinedError: …", or raise_exception's text
    int line = 0;         // 1-based; 0 while no node has claimed the error yet
    int column = 0;
};

template <typename... Args>
[[noreturn]] void eval_fail(fmt::format_string<Args...> format, Args&&... args) {
    throw EvalError{fmt::format(format, std::forward<Args>(args)...)};
}

}  // namespace slm::jinja
