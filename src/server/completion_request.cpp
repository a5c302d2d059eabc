// Field parsing shared by the generation routes, and the request -> jobs step with its limits.
#include "server/completion_request.h"

#include "server/api_error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace slm::server {

ModelChoice resolve_model(Engine& engine, const std::string& model) {
    const auto& id = engine.info().id;
    ServedAdapters& adapters = engine.adapters();
    const auto same = [&](const std::string& name) {
        return std::equal(name.begin(), name.end(), model.begin(), model.end(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        });
    };
    if (model == id || model == id + ":latest" || std::any_of(engine.info().aliases.begin(), engine.info().aliases.end(), same))
        return {id, adapters.defaults()};
    if (!model.starts_with(id + ":")) throw_model_not_found(model);
    const std::string name = model.substr(id.size() + 1);
    const ServedAdapter* adapter = adapters.find(name);
    if (!adapter)
        throw ApiError(400,
                       fmt::format("The model '{}' names the LoRA adapter '{}', which this server has not loaded "
                                   "(loaded: {})",
                                   model, name, adapters.describe()),
                       "invalid_request_error", "model", "adapter_not_found");
    std::vector<float> scales(adapters.list().size(), 0.0f);
    scales[size_t(adapter->id)] = adapter->scale;
    return {model, AdapterSet::from_scales(scales)};
}

void apply_lora_field(const JsonFields& fields, Engine& engine, ModelChoice& choice) {
    const auto* lora = fields.get("lora");
    if (!lora) return;
    choice.adapters = AdapterSet::from_scales(engine.adapters().parse_scales(*lora, fields.path_of("lora")));
}

std::vector<std::string> parse_stop(const JsonFields& fields, std::string_view key, size_t max_count) {
    std::vector<std::string> stops;
    const auto* v = fields.get(key);
    if (!v) return stops;
    const std::string path = fields.path_of(key);
    if (v->is_string()) {
        stops.push_back(v->get<std::string>());
    } else if (v->is_array()) {
        if (v->size() > max_count)
            throw_invalid(path, fmt::format("'{}' has {} entries; at most {} are allowed", path, v->size(), max_count));
        for (size_t i = 0; i < v->size(); ++i) {
            if (!(*v)[i].is_string())
                throw_invalid(fmt::format("{}[{}]", path, i), fmt::format("'{}[{}]' must be a string, not {}", path, i,
                                                                           json_type_name((*v)[i])));
            stops.push_back((*v)[i].get<std::string>());
        }
    } else {
        throw_invalid(path, fmt::format("'{}' must be a string or an array of strings, not {}", path, json_type_name(*v)));
    }
    return stops;
}

std::vector<std::pair<int32_t, float>> parse_logit_bias(const JsonFields& fields, int vocab_size) {
    std::vector<std::pair<int32_t, float>> bias;
    auto object = fields.object("logit_bias");
    if (!object) return bias;
    for (const auto& [key, value] : object->json().items()) {
        const std::string path = fmt::format("logit_bias.{}", key);
        char* end = nullptr;
        const long id = std::strtol(key.c_str(), &end, 10);
        if (key.empty() || *end != '\0' || id < 0 || id >= vocab_size)
            throw_invalid(path, fmt::format("'logit_bias' key '{}' is not a token id of this model (0 to {})", key,
                                            vocab_size - 1));
        const auto b = object->number(key, -100.0, 100.0);
        bias.emplace_back(int32_t(id), float(*b));
    }
    return bias;
}

std::shared_ptr<const JsonGrammar> parse_openai_response_format(const JsonFields& fields, const Engine& engine) {
    auto format = fields.object("response_format");
    if (!format) return nullptr;
    const auto type = format->string("type");
    if (!type) throw_invalid("response_format.type", "'response_format.type' is required");
    if (*type == "text") return nullptr;
    if (*type == "json_object") return JsonGrammar::any_object(engine.vocabulary());
    if (*type == "json_schema") {
        auto spec = format->object("json_schema");
        if (!spec) throw_invalid("response_format.json_schema", "'response_format.json_schema' is required");
        if (!spec->string("name"))
            throw_invalid("response_format.json_schema.name", "'response_format.json_schema.name' is required");
        const auto* schema = spec->get("schema");
        if (!schema) return JsonGrammar::any_object(engine.vocabulary());
        return JsonGrammar::from_schema(*schema, "response_format.json_schema.schema", engine.vocabulary());
    }
    throw_invalid("response_format.type",
                  fmt::format("'response_format.type' is '{}'; expected 'text', 'json_object' or 'json_schema'", *type));
}

std::vector<GenerationJob> make_jobs(const CompletionRequest& request, Engine& engine) {
    const int context = engine.scheduler().context_length();
    if (request.prompt.empty())
        throw_invalid(request.prompt_param, fmt::format("'{}' produced no tokens", request.prompt_param));
    if (int(request.prompt.size()) >= context)
        throw ApiError(400,
                       fmt::format("Prompt too long: this model's maximum context length is {} tokens, but '{}' "
                                   "resulted in {} tokens. Please reduce the length of '{}'.",
                                   context, request.prompt_param, request.prompt.size(), request.prompt_param),
                       "invalid_request_error", request.prompt_param, "context_length_exceeded");
    std::vector<GenerationJob> jobs;
    for (int i = 0; i < request.n; ++i) {
        GenerationJob job;
        job.prompt = request.prompt;
        job.max_tokens = request.max_tokens;
        job.stop = request.stop;
        job.sampling = request.sampling;
        if (job.sampling.seed && i > 0) job.sampling.seed = *job.sampling.seed + uint64_t(i);  // distinct choices
        job.top_logprobs = request.top_logprobs;
        job.adapters = request.adapters;
        jobs.push_back(std::move(job));
    }
    return jobs;
}

}  // namespace slm::server
