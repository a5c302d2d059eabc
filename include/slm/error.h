// slm::Error: the one exception type for failures caused by user input (files, fields, options).
// It is caught at the CLI and server boundaries; its message names what was wrong and where.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace slm {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws an Error with a fmt-formatted message: fail("{}: tensor '{}' has {} dims", path, name, n).
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
    throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace slm
