// CompletionRequest: a generation request after parsing and validation, whichever API sent it
// (OpenAI chat/completions, ollama chat/generate), and how it becomes Scheduler jobs.
#pragma once

#include "server/engine.h"
#include "server/inference_backend.h"
#include "server/json_fields.h"
#include "server/scheduler.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace slm::server {

struct CompletionRequest {
    std::string model;
    AdapterSet adapters;  // LoRA adapters the request runs under
    std::vector<int32_t> prompt;
    std::string prompt_param = "messages";  // the field that made the prompt, for errors
    int n = 1;
    bool stream = false;
    bool include_usage = false;
    int top_logprobs = -1;  // -1: no logprobs
    int max_tokens = 0;     // 0: until the context is full
    std::vector<std::string> stop;
    SamplingParams sampling;
};

// What a request's `model` asks for, and the name its responses carry.
struct ModelChoice {
    std::string name;     // the served id, or ID:ADAPTER
    AdapterSet adapters;
};

// `model` is the served id (or ID:latest, as ollama names it): the default adapters; or
// ID:ADAPTER: that loaded adapter alone at its --lora scale. 404 model_not_found for another
// model, 400 (code adapter_not_found, param `model`) for an adapter this server has not loaded.
ModelChoice resolve_model(Engine& engine, const std::string& model);

// llama.cpp's request field `lora` ([{"id", "scale"}]), when present, replaces the adapters the
// model name chose: the listed ones at their scales, all others off.
void apply_lora_field(const JsonFields& fields, Engine& engine, ModelChoice& choice);

// OpenAI's `stop`: a string or an array of up to 4 strings.
std::vector<std::string> parse_stop(const JsonFields& fields, std::string_view key, size_t max_count);

// OpenAI's `logit_bias`: {"token id": bias in [-100, 100]}; ids checked against the vocabulary.
std::vector<std::pair<int32_t, float>> parse_logit_bias(const JsonFields& fields, int vocab_size);

// `response_format` (OpenAI) or `format` (ollama) -> the grammar stage, or null for plain text.
std::shared_ptr<const JsonGrammar> parse_openai_response_format(const JsonFields& fields, const Engine& engine);

// Checks the prompt against the context (400 naming prompt_param) and makes the n jobs.
std::vector<GenerationJob> make_jobs(const CompletionRequest& request, Engine& engine);

}  // namespace slm::server
