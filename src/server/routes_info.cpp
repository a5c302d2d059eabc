// Routes that describe the server and its model: /health, /v1/models, /api/version, /api/tags,
// /api/show. Each loaded LoRA adapter is listed as a model of its own, ID:ADAPTER; with a hub
// cache (ServerOptions::hub), so is each model cached there, org/name (not loaded: `slm serve
// org/name` serves it).
#include "server/cached_models.h"
#include "server/completion_request.h"
#include "server/engine.h"
#include "server/json_fields.h"
#include "server/route_handler.h"
#include "server/routes.h"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace slm::server {

using nlohmann::json;

Engine& require_model(const RouteContext& context) {
    if (!context.model)
        throw ApiError(503, "No model is loaded on this server", "server_error", "model", "model_not_loaded");
    return *context.model;
}

Engine& require_generating_model(const RouteContext& context) {
    Engine& engine = require_model(context);
    if (!engine.generates())
        throw ApiError(400, fmt::format("'{}' is an embedding model: it serves /v1/embeddings and /api/embed only",
                                        engine.info().id),
                       "invalid_request_error", "model", "model_not_generative");
    return engine;
}

// ollama's "details" object.
static json ollama_details(const ModelInfo& info) {
    return {{"parent_model", ""},
            {"format", info.format},
            {"family", info.architecture},
            {"families", json::array({info.architecture})},
            {"parameter_size", parameter_size_text(info.parameter_count)},
            {"quantization_level", info.quantization}};
}

// ollama names models NAME:TAG; ours is served as NAME:latest.
static std::string ollama_name(const ModelInfo& info) { return info.id + ":latest"; }

// The names a client may send besides the base's: ID:ADAPTER for each loaded adapter.
static std::vector<std::string> adapter_model_names(Engine& engine) {
    std::vector<std::string> names;
    for (const auto& a : engine.adapters().list()) names.push_back(engine.info().id + ":" + a.name);
    return names;
}

// OpenAI's model object; an adapter's names its base as `parent` (as vLLM lists LoRA modules).
static json openai_model(const ModelInfo& info, const std::string& id) {
    json m = {{"id", id}, {"object", "model"}, {"created", info.created}, {"owned_by", "slm"}};
    if (id != info.id) m["parent"] = info.id;
    return m;
}

// A digest per adapter model, so that clients keying models by digest tell them apart.
static std::string adapter_digest(const ModelInfo& info, const std::string& name) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : info.digest + ":" + name) h = (h ^ c) * 1099511628211ULL;
    return fmt::format("{:016x}{}", h, info.digest.substr(std::min<size_t>(16, info.digest.size())));
}

// A cached model in OpenAI's shape: owned by its Hub organisation.
static json openai_cached_model(const CachedModel& m) {
    return {{"id", m.id}, {"object", "model"}, {"created", m.modified}, {"owned_by", m.owner}};
}

// A cached model in ollama's shape, NAME:latest as ollama names a model's default tag.
static json ollama_cached_model(const CachedModel& m) {
    const std::string name = m.id + ":latest";
    const json families = m.family.empty() ? json(nullptr) : json::array({m.family});
    return {{"name", name},
            {"model", name},
            {"modified_at", m.modified_at},
            {"size", m.size},
            {"digest", m.digest},
            {"details",
             {{"parent_model", ""},
              {"format", m.format},
              {"family", m.family},
              {"families", families},
              {"parameter_size", parameter_size_text(m.parameter_count)},
              {"quantization_level", m.quantization}}}};
}

static std::vector<CachedModel> cached(const RouteContext& context) {
    if (!context.options.hub) return {};
    return cached_models(*context.options.hub, context.model ? context.model->info().id : "");
}

void add_info_routes(httplib::Server& http, RouteContext& context) {
    http.Get("/health", make_handler(context.log, ErrorShape::openai,
                                     [&context](const httplib::Request&, httplib::Response& res, RequestRecord&) {
        if (context.shutting_down.load()) {
            write_json(res, json{{"status", "shutting_down"}}.dump(), 503);
            return;
        }
        json body = {{"status", context.model ? "ok" : "no_model"}};
        if (context.model) {
            const auto stats = context.model->scheduler().stats();
            body["model"] = context.model->info().id;
            body["requests_completed"] = stats.completed;
        }
        write_json(res, body.dump());
    }));

    http.Get("/v1/models", make_handler(context.log, ErrorShape::openai,
                                         [&context](const httplib::Request&, httplib::Response& res, RequestRecord&) {
        json data = json::array();
        if (context.model) {
            const auto& info = context.model->info();
            data.push_back(openai_model(info, info.id));
            for (const auto& name : adapter_model_names(*context.model)) data.push_back(openai_model(info, name));
        }
        for (const auto& m : cached(context)) data.push_back(openai_cached_model(m));
        write_json(res, json{{"object", "list"}, {"data", data}}.dump());
    }));

    http.Get(R"(/v1/models/(.+))", make_handler(context.log, ErrorShape::openai,
                                                [&context](const httplib::Request& req, httplib::Response& res, RequestRecord&) {
        const std::string name = req.matches[1];
        for (const auto& m : cached(context))
            if (m.id == name) return write_json(res, openai_cached_model(m).dump());
        if (!context.model) throw_model_not_found(name);
        const auto names = adapter_model_names(*context.model);
        const auto& info = context.model->info();
        if (name != info.id && std::find(names.begin(), names.end(), name) == names.end()) throw_model_not_found(name);
        write_json(res, openai_model(info, name).dump());
    }));

    http.Get("/api/version", make_handler(context.log, ErrorShape::ollama,
                                          [](const httplib::Request&, httplib::Response& res, RequestRecord&) {
        write_json(res, json{{"version", SLM_SERVER_VERSION}}.dump());
    }));

    http.Get("/api/tags", make_handler(context.log, ErrorShape::ollama,
                                       [&context](const httplib::Request&, httplib::Response& res, RequestRecord&) {
        json models = json::array();
        if (context.model) {
            const auto& info = context.model->info();
            models.push_back({{"name", ollama_name(info)},
                              {"model", ollama_name(info)},
                              {"modified_at", info.modified_at},
                              {"size", info.size_bytes},
                              {"digest", info.digest},
                              {"details", ollama_details(info)}});
            for (const auto& name : adapter_model_names(*context.model)) {
                json details = ollama_details(info);
                details["parent_model"] = ollama_name(info);
                models.push_back({{"name", name},
                                  {"model", name},
                                  {"modified_at", info.modified_at},
                                  {"size", info.size_bytes},
                                  {"digest", adapter_digest(info, name)},
                                  {"details", details}});
            }
        }
        for (const auto& m : cached(context)) models.push_back(ollama_cached_model(m));
        write_json(res, json{{"models", models}}.dump());
    }));

    http.Post("/api/show", make_handler(context.log, ErrorShape::ollama,
                                        [&context](const httplib::Request& req, httplib::Response& res, RequestRecord&) {
        const json body = parse_json_body(req.body);
        JsonFields fields(body, "");
        // Older clients send "name", newer ones "model".
        auto name = fields.string("model");
        if (!name) name = fields.string("name");
        if (!name) throw_invalid("model", "'model' is required");
        Engine& engine = require_model(context);
        const auto& info = engine.info();
        (void)resolve_model(engine, *name);  // the base or one of its adapters
        const std::string arch = info.architecture;
        json model_info = {{"general.architecture", arch},
                           {"general.parameter_count", info.parameter_count},
                           {arch + ".context_length", info.trained_context_length},
                           {arch + ".embedding_length", info.embedding_length}};
        write_json(res, json{{"modelfile", fmt::format("FROM {}\n", info.id)},
                             {"parameters", fmt::format("num_ctx {}", info.context_length)},
                             {"template", info.chat_template},
                             {"details", ollama_details(info)},
                             {"model_info", model_info},
                             {"capabilities", engine.generates() ? json::array({"completion", "embedding"}) : json::array({"embedding"})},
                             {"modified_at", info.modified_at}}
                            .dump());
    }));
}

}  // namespace slm::server
