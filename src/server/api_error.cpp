// ApiError rendering in OpenAI's and ollama's error shapes.
#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace slm::server {

ApiError::ApiError(int status, std::string message, std::string type, std::string param, std::string code)
    : std::runtime_error(std::move(message)),
      status_(status), type_(std::move(type)), param_(std::move(param)), code_(std::move(code)) {}

std::string ApiError::openai_body() const {
    nlohmann::json error = {{"message", what()}, {"type", type_}, {"param", nullptr}, {"code", nullptr}};
    if (!param_.empty()) error["param"] = param_;
    if (!code_.empty()) error["code"] = code_;
    return nlohmann::json{{"error", error}}.dump();
}

std::string ApiError::ollama_body() const { return nlohmann::json{{"error", what()}}.dump(); }

void throw_invalid(const std::string& param, const std::string& message) {
    throw ApiError(400, message, "invalid_request_error", param);
}

void throw_model_not_found(const std::string& model) {
    throw ApiError(404, "The model '" + model + "' does not exist", "invalid_request_error", "model",
                   "model_not_found");
}

}  // namespace slm::server
