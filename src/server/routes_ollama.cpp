// ollama routes: POST /api/chat and /api/generate, NDJSON streaming by default (stream: false for
// one object), and /api/embed, `options` mapped to our sampling settings, `format` ("json" or a JSON Schema)
// enforced by the grammar stage, `keep_alive` accepted (the model stays loaded while serving).
#include "server/api_error.h"
#include "server/completion_request.h"
#include "server/engine.h"
#include "server/grounding.h"
#include "server/json_fields.h"
#include "server/route_handler.h"
#include "server/routes.h"
#include "server/streaming.h"

#include <nlohmann/json.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>

namespace slm::server {

using nlohmann::json;

namespace {

std::string rfc3339_now() {
    const auto now = std::chrono::system_clock::now();
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(now)), micros);
}

int64_t ns(double ms) { return int64_t(ms * 1e6); }

// ollama's `options` (Modelfile parameter names).
void parse_options(const JsonFields& body, const Engine& engine, CompletionRequest& r) {
    r.sampling.temperature = 0.8f;  // ollama's defaults
    r.sampling.top_k = 40;
    r.sampling.top_p = 0.9f;
    r.sampling.repeat_penalty = 1.1f;
    auto o = body.object("options");
    if (!o) return;
    if (auto v = o->number("temperature", 0.0, 100.0)) r.sampling.temperature = float(*v);
    if (auto v = o->number("top_p", 0.0, 1.0)) r.sampling.top_p = float(*v);
    if (auto v = o->integer("top_k", 0, 1 << 20)) r.sampling.top_k = int(*v);
    if (auto v = o->number("min_p", 0.0, 1.0)) r.sampling.min_p = float(*v);
    if (auto v = o->number("repeat_penalty", 0.0, 10.0)) r.sampling.repeat_penalty = float(*v);
    if (auto v = o->integer("repeat_last_n", -1, 1 << 20)) r.sampling.penalty_last_n = int(*v);
    if (auto v = o->number("presence_penalty", -2.0, 2.0)) r.sampling.presence_penalty = float(*v);
    if (auto v = o->number("frequency_penalty", -2.0, 2.0)) r.sampling.frequency_penalty = float(*v);
    if (auto v = o->integer("seed", INT64_MIN, INT64_MAX)) r.sampling.seed = uint64_t(*v);
    // num_predict: -1 means until the context is full (ollama); -2 "fill context" likewise.
    if (auto v = o->integer("num_predict", -2, INT32_MAX)) r.max_tokens = *v <= 0 ? 0 : int(*v);
    r.stop = parse_stop(*o, "stop", 16);
    // Accepted, fixed by the server: num_ctx, num_batch, num_thread, num_gpu, mirostat, …
    (void)engine;
}

std::shared_ptr<const JsonGrammar> parse_format(const JsonFields& body, const Engine& engine) {
    const json* format = body.get("format");
    if (!format) return nullptr;
    if (format->is_string()) {
        if (format->get<std::string>() == "json") return JsonGrammar::any_object(engine.vocabulary());
        if (format->get<std::string>().empty()) return nullptr;
        throw_invalid("format", fmt::format("'format' is '{}'; expected \"json\" or a JSON schema object",
                                            format->get<std::string>()));
    }
    if (format->is_object()) return JsonGrammar::from_schema(*format, "format", engine.vocabulary());
    throw_invalid("format", fmt::format("'format' must be \"json\" or a JSON schema object, not {}", json_type_name(*format)));
}

void check_keep_alive(const JsonFields& body) {
    const json* v = body.get("keep_alive");
    if (v && !v->is_string() && !v->is_number())
        throw_invalid("keep_alive", fmt::format("'keep_alive' must be a duration string or a number of seconds, not {}",
                                                json_type_name(*v)));
}

// The closing statistics ollama reports (durations in nanoseconds).
void add_final_stats(json& line, const GenerationSummary& s) {
    line["done"] = true;
    line["done_reason"] = s.finish_reason == "cancelled" ? "length" : s.finish_reason;
    line["total_duration"] = ns(s.total_ms);
    line["load_duration"] = 0;
    line["prompt_eval_count"] = s.prompt_tokens;
    line["prompt_eval_duration"] = ns(s.time_to_first_token_ms);
    line["eval_count"] = s.completion_tokens;
    line["eval_duration"] = ns(s.total_ms - s.time_to_first_token_ms);
}

// NDJSON lines of /api/chat (chat = true) and /api/generate. A grounded chat (`passages` set)
// carries its `citations` in the last line, the one with "done": true.
class OllamaStreamFormat : public StreamFormat {
public:
    OllamaStreamFormat(std::string model, bool chat, std::vector<int32_t> context, GroundedPassages passages = nullptr)
        : model_(std::move(model)), chat_(chat), context_(std::move(context)), passages_(std::move(passages)) {}

    std::string pieces(int, const std::vector<GeneratedPiece>& pieces) override {
        std::string text;
        for (const auto& p : pieces) {
            text += p.text;
            if (p.token >= 0) context_.push_back(p.token);
        }
        answer_ += text;
        if (text.empty()) return "";
        return line(text) + "\n";
    }
    std::string finished(int, const GenerationSummary& summary) override {
        if (summary.finish_reason == "error") return to_json_text({{"error", "Generation failed: " + summary.error}}) + "\n";
        json last = json::parse(line(""));
        add_final_stats(last, summary);
        if (!chat_) last["context"] = context_;
        if (passages_) last["citations"] = citations_json(*passages_, std::span<const std::string>(&answer_, 1));
        return to_json_text(last) + "\n";
    }
    std::string end(const std::vector<GenerationSummary>&) override { return ""; }

    std::string line(const std::string& text) const {
        json l = {{"model", model_}, {"created_at", rfc3339_now()}};
        if (chat_) l["message"] = {{"role", "assistant"}, {"content", text}};
        else l["response"] = text;
        l["done"] = false;
        return to_json_text(l);
    }

private:
    std::string model_;
    bool chat_;
    std::vector<int32_t> context_;
    GroundedPassages passages_;
    std::string answer_;
};

// The fields /api/chat and /api/generate share: the model's name, stream (ollama streams by
// default), options and format. ollama's requests have no adapter field: a LoRA adapter is
// picked by the model's tag (NAME:ADAPTER), as /api/tags lists it.
CompletionRequest common_request(const JsonFields& f, Engine& engine, const std::string& model) {
    CompletionRequest r;
    r.adapters = resolve_model(engine, model).adapters;
    r.stream = f.boolean("stream").value_or(true);
    parse_options(f, engine, r);
    r.sampling.json = parse_format(f, engine);
    return r;
}

// Shared tail of /api/chat and /api/generate: submit, then stream or answer once.
void run_ollama(RouteContext& context, const httplib::Request& req, httplib::Response& res, RequestRecord& record,
                Engine& engine, CompletionRequest& r, bool chat, const std::string& model_name,
                GroundedPassages passages = nullptr) {
    auto jobs = make_jobs(r, engine);
    record.tokens_in = int64_t(r.prompt.size());
    auto streams = engine.scheduler().submit(std::move(jobs));
    auto format = std::make_unique<OllamaStreamFormat>(model_name, chat, r.prompt, std::move(passages));
    if (r.stream) {
        stream_response(res, "application/x-ndjson", std::move(streams), std::move(format), context.log.record(&req));
        return;
    }
    std::shared_ptr<OllamaStreamFormat> answer(std::move(format));
    auto build = [answer, chat](std::vector<CollectedChoice> choices, RequestRecord& rec) {
        const CollectedChoice& choice = choices[0];
        if (choice.summary.finish_reason == "error")
            throw ApiError(500, "Generation failed: " + choice.summary.error, "server_error");
        (void)answer->pieces(0, choice.pieces);  // accumulates the context ids
        json out = json::parse(answer->finished(0, choice.summary));
        if (chat) out["message"]["content"] = choice.text();
        else out["response"] = choice.text();
        rec.tokens_out = choice.summary.completion_tokens;
        return to_json_text(out);
    };
    respond_when_done(res, std::move(streams), context.log.record(&req),
                      context.options.heartbeat_ms, build,
                      [](const ApiError& e) { return e.ollama_body(); });
}

void ollama_chat(RouteContext& context, const httplib::Request& req, httplib::Response& res, RequestRecord& record) {
    const json body = parse_json_body(req.body);
    JsonFields f(body, "");
    const auto model = f.string("model");
    if (!model) throw_invalid("model", "'model' is required");
    const json* messages = f.get("messages");
    if (!messages) throw_invalid("messages", "'messages' is required");
    if (!messages->is_array())
        throw_invalid("messages", fmt::format("'messages' must be an array, not {}", json_type_name(*messages)));
    json normalized = json::array();
    for (size_t i = 0; i < messages->size(); ++i) {
        const std::string path = fmt::format("messages[{}]", i);
        JsonFields m((*messages)[i], path);
        const auto role = m.string("role");
        if (!role) throw_invalid(path + ".role", fmt::format("'{}.role' is required", path));
        if (m.get("images")) throw_invalid(path + ".images", fmt::format("'{}.images': this model accepts text only", path));
        json message = {{"role", *role}, {"content", m.string("content").value_or("")}};
        if (const json* calls = m.get("tool_calls")) message["tool_calls"] = *calls;
        normalized.push_back(std::move(message));
    }
    check_keep_alive(f);
    Engine& engine = require_generating_model(context);
    CompletionRequest r = common_request(f, engine, *model);
    const auto rag_choice = context.knowledge_bases.parse_field(f);
    if (normalized.empty()) {  // ollama: an empty chat loads the model and answers at once
        json out = {{"model", *model}, {"created_at", rfc3339_now()}, {"message", {{"role", "assistant"}, {"content", ""}}},
                    {"done_reason", "load"}, {"done", true}};
        write_json(res, to_json_text(out));
        return;
    }
    ChatPrompt prompt = chat_prompt(engine, context.knowledge_bases, rag_choice, normalized, r.max_tokens);
    r.prompt = std::move(prompt.prompt);
    r.prompt_param = "messages";
    run_ollama(context, req, res, record, engine, r, true, *model, std::move(prompt.passages));
}

void ollama_generate(RouteContext& context, const httplib::Request& req, httplib::Response& res, RequestRecord& record) {
    const json body = parse_json_body(req.body);
    JsonFields f(body, "");
    const auto model = f.string("model");
    if (!model) throw_invalid("model", "'model' is required");
    const std::string prompt = f.string("prompt").value_or("");
    const auto system = f.string("system");
    const bool raw = f.boolean("raw").value_or(false);
    if (f.get("images")) throw_invalid("images", "'images': this model accepts text only");
    if (f.string("suffix")) throw_invalid("suffix", "'suffix' (fill-in-the-middle) is not supported by this model");
    if (f.string("template")) throw_invalid("template", "'template' overrides are not supported; the model's own chat template is used");
    check_keep_alive(f);
    std::vector<int32_t> context_ids;
    if (const json* c = f.get("context")) {
        if (!c->is_array()) throw_invalid("context", "'context' must be an array of token ids");
        for (size_t i = 0; i < c->size(); ++i) {
            if (!(*c)[i].is_number_integer())
                throw_invalid(fmt::format("context[{}]", i), fmt::format("'context[{}]' must be a token id", i));
            context_ids.push_back((*c)[i].get<int32_t>());
        }
    }
    Engine& engine = require_generating_model(context);
    CompletionRequest r = common_request(f, engine, *model);
    if (prompt.empty() && context_ids.empty()) {  // ollama: loads the model, generates nothing
        write_json(res, to_json_text({{"model", *model}, {"created_at", rfc3339_now()}, {"response", ""},
                                      {"done", true}, {"done_reason", "load"}}));
        return;
    }
    const int vocab = int(engine.vocabulary()->bytes.size());
    for (size_t i = 0; i < context_ids.size(); ++i)
        if (context_ids[i] < 0 || context_ids[i] >= vocab)
            throw_invalid(fmt::format("context[{}]", i), fmt::format("'context[{}]' is not a token id of this model", i));
    std::vector<int32_t> ids = context_ids;
    if (raw) {
        auto more = engine.tokenize(prompt, context_ids.empty());
        ids.insert(ids.end(), more.begin(), more.end());
    } else {
        json messages = json::array();
        if (system) messages.push_back({{"role", "system"}, {"content", *system}});
        messages.push_back({{"role", "user"}, {"content", prompt}});
        auto more = engine.tokenize(engine.render_chat(messages), false);
        ids.insert(ids.end(), more.begin(), more.end());
    }
    r.prompt = std::move(ids);
    r.prompt_param = "prompt";
    run_ollama(context, req, res, record, engine, r, false, *model);
}

// ollama's /api/embed: `input` a string or a list of strings, each cut to the context when
// `truncate` (the default) or refused; the vectors scaled to unit length, as ollama returns them.
void ollama_embed(RouteContext& context, const httplib::Request& req, httplib::Response& res, RequestRecord& record) {
    const auto start = std::chrono::steady_clock::now();
    const json body = parse_json_body(req.body);
    JsonFields f(body, "");
    const auto model = f.string("model");
    if (!model) throw_invalid("model", "'model' is required");
    check_keep_alive(f);
    if (f.get("dimensions")) throw_invalid("dimensions", "'dimensions' is not supported: this model has fixed-size embeddings");
    const bool truncate = f.boolean("truncate").value_or(true);
    const json* input = f.get("input");
    std::vector<std::string> texts;
    if (input && input->is_string()) {
        texts.push_back(input->get<std::string>());
    } else if (input && input->is_array() && !input->empty() && input->size() <= 256) {
        for (size_t i = 0; i < input->size(); ++i) {
            if (!(*input)[i].is_string())
                throw_invalid(fmt::format("input[{}]", i), fmt::format("'input[{}]' must be a string", i));
            texts.push_back((*input)[i].get<std::string>());
        }
    } else {
        throw_invalid("input", "'input' must be a string or a list of 1 to 256 strings");
    }
    Engine& engine = require_model(context);
    const ModelChoice chosen = resolve_model(engine, *model);
    const size_t context_length = size_t(engine.scheduler().context_length());
    json embeddings = json::array();
    int64_t tokens = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        std::vector<int32_t> ids = engine.tokenize(texts[i], true);
        if (ids.size() > context_length) {
            if (!truncate)
                throw ApiError(400, fmt::format("input {} has {} tokens, more than the context length {}", i, ids.size(), context_length),
                               "invalid_request_error", "input", "context_length_exceeded");
            ids.resize(context_length);
        }
        tokens += int64_t(ids.size());
        std::vector<float> v = engine.embed(ids, chosen.adapters);
        double sq = 0;
        for (float x : v) sq += double(x) * x;
        const float inv = sq > 0 ? float(1.0 / std::sqrt(sq)) : 0.0f;
        for (float& x : v) x *= inv;
        embeddings.push_back(std::move(v));
    }
    record.tokens_in = tokens;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    write_json(res, to_json_text({{"model", *model}, {"embeddings", std::move(embeddings)}, {"total_duration", ns(ms)},
                                  {"load_duration", 0}, {"prompt_eval_count", tokens}}));
}

}  // namespace

void add_ollama_routes(httplib::Server& http, RouteContext& context) {
    auto route = [&](void (*fn)(RouteContext&, const httplib::Request&, httplib::Response&, RequestRecord&)) {
        return make_handler(context.log, ErrorShape::ollama,
                            [&context, fn](const httplib::Request& req, httplib::Response& res, RequestRecord& record) {
            fn(context, req, res, record);
        });
    };
    http.Post("/api/chat", route(ollama_chat));
    http.Post("/api/generate", route(ollama_generate));
    http.Post("/api/embed", route(ollama_embed));
}

}  // namespace slm::server
