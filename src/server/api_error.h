// ApiError: a request failure the client caused (or a refusal such as a full queue), carrying the
// HTTP status and the fields of OpenAI's error object; routes throw it, the HTTP layer renders it.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <stdexcept>
#include <string>

namespace slm::server {

class ApiError : public std::runtime_error {
public:
    // `param` names the offending request field ("messages[0].content"), empty when none;
    // `code` is OpenAI's machine-readable code ("model_not_found"), empty when none.
    ApiError(int status, std::string message, std::string type, std::string param = "", std::string code = "");

    int status() const { return status_; }
    const std::string& type() const { return type_; }
    const std::string& param() const { return param_; }
    const std::string& code() const { return code_; }

    // {"error":{"message","type","param","code"}}: OpenAI's shape (param/code null when empty).
    std::string openai_body() const;
    // {"error":"message"}: ollama's shape, used on /api/* routes.
    std::string ollama_body() const;

private:
    int status_;
    std::string type_, param_, code_;
};

// The common cases, each naming the field.
[[noreturn]] void throw_invalid(const std::string& param, const std::string& message);
[[noreturn]] void throw_model_not_found(const std::string& model);

}  // namespace slm::server
