// OpenAI routes: POST /v1/chat/completions, /v1/completions and /v1/embeddings, with responses
// (and SSE stream chunks) shaped as OpenAI's API returns them.
#include "server/api_error.h"
#include "server/completion_request.h"
#include "server/engine.h"
#include "server/grounding.h"
#include "server/json_fields.h"
#include "server/route_handler.h"
#include "server/routes.h"
#include "server/streaming.h"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <random>

namespace slm::server {

using nlohmann::json;

namespace {

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string new_id(const char* prefix) {
    static std::atomic<uint64_t> counter{0};
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{}-{:012x}{:04x}", prefix, rng() & 0xffffffffffffULL, counter.fetch_add(1) & 0xffff);
}

const char* system_fingerprint() { return "slm-" SLM_SERVER_VERSION; }

json usage_json(const std::vector<GenerationSummary>& summaries) {
    int prompt = summaries.empty() ? 0 : summaries[0].prompt_tokens;
    int cached = summaries.empty() ? 0 : summaries[0].cached_prompt_tokens;
    int completion = 0;
    for (const auto& s : summaries) completion += s.completion_tokens;
    return {{"prompt_tokens", prompt},
            {"completion_tokens", completion},
            {"total_tokens", prompt + completion},
            {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

// llama.cpp's `timings` beside the usage of a stream (the web page shows its tokens/s): the prompt
// time runs to the first token (queue wait included), decoding from there to the end.
json timings_json(const std::vector<GenerationSummary>& summaries) {
    const GenerationSummary first = summaries.empty() ? GenerationSummary{} : summaries[0];
    int predicted = 0;
    double predicted_ms = 0.0;
    for (const auto& s : summaries) {
        predicted += s.completion_tokens;
        predicted_ms = std::max(predicted_ms, s.total_ms - s.time_to_first_token_ms);
    }
    const int prompt = first.prompt_tokens - first.cached_prompt_tokens;
    auto per_second = [](double n, double ms) { return ms > 0.0 ? n * 1000.0 / ms : 0.0; };
    // The first token comes with the prompt's forward: decoding made the other predicted - 1.
    return {{"prompt_n", prompt},
            {"prompt_ms", first.time_to_first_token_ms},
            {"prompt_per_second", per_second(prompt, first.time_to_first_token_ms)},
            {"predicted_n", predicted},
            {"predicted_ms", predicted_ms},
            {"predicted_per_second", per_second(std::max(0, predicted - int(summaries.size())), predicted_ms)}};
}

// A failed generation ends the response: the client gets an error instead of a half answer.
std::string openai_error_body(const ApiError& e) { return e.openai_body(); }

void check_summaries(const std::vector<GenerationSummary>& summaries) {
    for (const auto& s : summaries)
        if (s.finish_reason == "error") throw ApiError(500, "Generation failed: " + s.error, "server_error");
}

// The body of a non-streaming chat.completion / text_completion: one object per choice from
// `choice_json(index, choice)`, usage, the fields of `extra` (a grounded answer's citations), and
// the record's completion token count.
template <typename ChoiceJson>
std::string completion_body(const std::string& model, const std::string& id, const char* object,
                            const std::vector<CollectedChoice>& choices, const ChoiceJson& choice_json,
                            RequestRecord& record, const json& extra = json::object()) {
    std::vector<GenerationSummary> summaries;
    json out_choices = json::array();
    for (size_t i = 0; i < choices.size(); ++i) {
        summaries.push_back(choices[i].summary);
        out_choices.push_back(choice_json(i, choices[i]));
    }
    check_summaries(summaries);
    const json usage = usage_json(summaries);
    record.tokens_out = usage["completion_tokens"].get<int64_t>();
    json body = {{"id", id}, {"object", object}, {"created", unix_now()}, {"model", model},
                 {"choices", out_choices}, {"usage", usage}, {"system_fingerprint", system_fingerprint()}};
    for (const auto& [key, value] : extra.items()) body[key] = value;
    return to_json_text(body);
}

std::string token_string(const Engine& engine, int32_t token) {
    const auto& bytes = engine.vocabulary()->bytes;
    return token >= 0 && size_t(token) < bytes.size() ? bytes[size_t(token)] : std::string();
}

json byte_array(const std::string& s) {
    json bytes = json::array();
    for (unsigned char c : s) bytes.push_back(int(c));
    return bytes;
}

// Chat logprobs: {"content":[{"token","logprob","bytes","top_logprobs":[…]}],"refusal":null}.
json chat_logprobs(const Engine& engine, const std::vector<GeneratedPiece>& pieces) {
    json content = json::array();
    for (const auto& p : pieces) {
        if (p.token < 0) continue;
        const std::string text = token_string(engine, p.token);
        json top = json::array();
        for (const auto& t : p.top) {
            const std::string alt = token_string(engine, t.token);
            top.push_back({{"token", alt}, {"logprob", t.logprob}, {"bytes", byte_array(alt)}});
        }
        content.push_back({{"token", text}, {"logprob", p.logprob}, {"bytes", byte_array(text)}, {"top_logprobs", top}});
    }
    return {{"content", content}, {"refusal", nullptr}};
}

// Legacy completions logprobs: parallel arrays.
json completion_logprobs(const Engine& engine, const std::vector<GeneratedPiece>& pieces, size_t text_offset) {
    json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(), offsets = json::array();
    for (const auto& p : pieces) {
        if (p.token < 0) continue;
        const std::string text = token_string(engine, p.token);
        tokens.push_back(text);
        token_logprobs.push_back(p.logprob);
        json top = json::object();
        for (const auto& t : p.top) top[token_string(engine, t.token)] = t.logprob;
        top_logprobs.push_back(top);
        offsets.push_back(text_offset);
        text_offset += text.size();
    }
    return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top_logprobs}, {"text_offset", offsets}};
}

// Sampling fields common to chat and completions.
void parse_common(const JsonFields& f, const Engine& engine, CompletionRequest& r) {
    r.n = int(f.integer("n", 1, 16).value_or(1));
    r.stream = f.boolean("stream").value_or(false);
    if (auto options = f.object("stream_options")) {
        if (!r.stream) throw_invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
        r.include_usage = options->boolean("include_usage").value_or(false);
    }
    r.sampling.temperature = float(f.number("temperature", 0.0, 2.0).value_or(1.0));
    r.sampling.top_p = float(f.number("top_p", 0.0, 1.0).value_or(1.0));
    r.sampling.presence_penalty = float(f.number("presence_penalty", -2.0, 2.0).value_or(0.0));
    r.sampling.frequency_penalty = float(f.number("frequency_penalty", -2.0, 2.0).value_or(0.0));
    if (auto seed = f.integer("seed", INT64_MIN, INT64_MAX)) r.sampling.seed = uint64_t(*seed);
    r.sampling.logit_bias = parse_logit_bias(f, engine.vocabulary()->bytes.empty() ? 0 : int(engine.vocabulary()->bytes.size()));
    r.stop = parse_stop(f, "stop", 4);
    // llama.cpp-style extensions many clients send.
    r.sampling.top_k = int(f.integer("top_k", 0, 1 << 20).value_or(0));
    r.sampling.min_p = float(f.number("min_p", 0.0, 1.0).value_or(0.0));
    r.sampling.repeat_penalty = float(f.number("repeat_penalty", 0.0, 10.0).value_or(1.0));
}

// OpenAI messages -> the plain form chat templates expect (content as one string).
json normalize_messages(const JsonFields& body) {
    const json* messages = body.get("messages");
    if (!messages) throw_invalid("messages", "'messages' is required");
    if (!messages->is_array())
        throw_invalid("messages", fmt::format("'messages' must be an array, not {}", json_type_name(*messages)));
    if (messages->empty()) throw_invalid("messages", "'messages' must contain at least one message");
    json out = json::array();
    for (size_t i = 0; i < messages->size(); ++i) {
        const std::string path = fmt::format("messages[{}]", i);
        JsonFields m((*messages)[i], path);
        const auto role = m.string("role");
        if (!role) throw_invalid(path + ".role", fmt::format("'{}.role' is required", path));
        static const std::vector<std::string> roles = {"system", "developer", "user", "assistant", "tool", "function"};
        if (std::find(roles.begin(), roles.end(), *role) == roles.end())
            throw_invalid(path + ".role", fmt::format("'{}.role' is '{}'; expected one of system, developer, user, "
                                                      "assistant, tool", path, *role));
        std::string content;
        const json* c = m.get("content");
        if (!c) {
            if (*role != "assistant") throw_invalid(path + ".content", fmt::format("'{}.content' is required", path));
        } else if (c->is_string()) {
            content = c->get<std::string>();
        } else if (c->is_array()) {
            for (size_t k = 0; k < c->size(); ++k) {
                const std::string part_path = fmt::format("{}.content[{}]", path, k);
                JsonFields part((*c)[k], part_path);
                const auto type = part.string("type");
                if (type != "text")
                    throw_invalid(part_path + ".type",
                                  fmt::format("'{}.type' is '{}'; this model accepts only 'text' parts", part_path,
                                              type.value_or("")));
                const auto text = part.string("text");
                if (!text) throw_invalid(part_path + ".text", fmt::format("'{}.text' is required", part_path));
                content += *text;
            }
        } else {
            throw_invalid(path + ".content", fmt::format("'{}.content' must be a string or an array of content parts, "
                                                         "not {}", path, json_type_name(*c)));
        }
        json message = {{"role", *role == "developer" ? std::string("system") : *role}, {"content", content}};
        if (const json* calls = m.get("tool_calls")) message["tool_calls"] = *calls;
        if (auto name = m.string("name")) message["name"] = *name;
        if (auto id = m.string("tool_call_id")) message["tool_call_id"] = *id;
        out.push_back(std::move(message));
    }
    return out;
}

std::string require_model_field(const JsonFields& f) {
    const auto model = f.string("model");
    if (!model) throw_invalid("model", "'model' is required");
    return *model;
}

// SSE chunks of the OpenAI routes: every chunk carries the response's id, object, creation time
// and model, one choice whose content sits under `content_key` ("delta" for chat, "text" for
// completions), and `usage: null` when the final usage chunk was asked for; errors, the usage
// chunk, [DONE] and keep-alives are the same for both routes.
class OpenAiStreamFormat : public StreamFormat {
public:
    std::string pieces(int index, const std::vector<GeneratedPiece>& pieces) override {
        std::string text;
        for (const auto& p : pieces) text += p.text;
        if (text.empty() && !logprobs_) return "";
        return event(chunk(index, content(text), logprobs_ ? logprobs_json(pieces) : json(nullptr), nullptr));
    }
    std::string finished(int index, const GenerationSummary& summary) override {
        if (summary.finish_reason == "error")
            return event(json::parse(ApiError(500, "Generation failed: " + summary.error, "server_error").openai_body()));
        return event(chunk(index, finish_content(), nullptr, finish_reason(summary)));
    }
    std::string end(const std::vector<GenerationSummary>& summaries) override {
        std::string out;
        if (usage_) {
            json c = header();
            c["choices"] = json::array();
            c["usage"] = usage_json(summaries);
            c["timings"] = timings_json(summaries);
            out += event(c);
        }
        return out + "data: [DONE]\n\n";
    }
    std::string keep_alive() override { return ": keep-alive\n\n"; }

    static json finish_reason(const GenerationSummary& s) {
        return s.finish_reason == "cancelled" ? json("length") : json(s.finish_reason);
    }

protected:
    OpenAiStreamFormat(const Engine& engine, std::string id, std::string model, const char* object,
                       const char* content_key, bool logprobs, bool usage)
        : engine_(engine), usage_(usage), id_(std::move(id)), model_(std::move(model)), object_(object),
          content_key_(content_key), logprobs_(logprobs) {}

    // A choice's content for streamed text, and for the chunk that carries the finish reason.
    virtual json content(const std::string& text) const = 0;
    virtual json finish_content() const = 0;
    virtual json logprobs_json(const std::vector<GeneratedPiece>& pieces) const = 0;

    json header() const {
        return {{"id", id_}, {"object", object_}, {"created", created_}, {"model", model_},
                {"system_fingerprint", system_fingerprint()}};
    }
    json chunk(int index, json choice_content, json logprobs, json finish) const {
        json c = header();
        c["choices"] = json::array({{{content_key_, std::move(choice_content)}, {"index", index},
                                     {"logprobs", std::move(logprobs)}, {"finish_reason", std::move(finish)}}});
        if (usage_) c["usage"] = nullptr;
        return c;
    }
    static std::string event(const json& c) { return "data: " + to_json_text(c) + "\n\n"; }

    const Engine& engine_;
    bool usage_;

private:
    std::string id_, model_;
    const char* object_;
    const char* content_key_;
    bool logprobs_;
    int64_t created_ = unix_now();
};

// The answers' texts, for the citations they make.
std::vector<std::string> answer_texts(const std::vector<CollectedChoice>& choices) {
    std::vector<std::string> texts;
    for (const auto& c : choices) texts.push_back(c.text());
    return texts;
}

// /v1/chat/completions: a first chunk per choice with the assistant role, then content deltas. A
// grounded request (`passages` set) gets one more chunk after every choice's finish chunk, before
// the usage chunk and [DONE]: no choices, and the `citations`.
class ChatStreamFormat : public OpenAiStreamFormat {
public:
    ChatStreamFormat(const Engine& engine, std::string id, std::string model, int n, bool logprobs, bool usage,
                     GroundedPassages passages)
        : OpenAiStreamFormat(engine, std::move(id), std::move(model), "chat.completion.chunk", "delta", logprobs, usage),
          n_(n), passages_(std::move(passages)), texts_(size_t(n)) {}

    std::string begin() override {
        std::string out;
        for (int i = 0; i < n_; ++i) out += event(chunk(i, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr));
        return out;
    }
    std::string pieces(int index, const std::vector<GeneratedPiece>& pieces) override {
        if (passages_)
            for (const auto& p : pieces) texts_[size_t(index)] += p.text;
        return OpenAiStreamFormat::pieces(index, pieces);
    }
    std::string end(const std::vector<GenerationSummary>& summaries) override {
        if (!passages_) return OpenAiStreamFormat::end(summaries);
        json c = header();
        c["choices"] = json::array();
        c["citations"] = citations_json(*passages_, texts_);
        if (usage_) c["usage"] = nullptr;
        return event(c) + OpenAiStreamFormat::end(summaries);
    }

private:
    json content(const std::string& text) const override { return {{"content", text}}; }
    json finish_content() const override { return json::object(); }
    json logprobs_json(const std::vector<GeneratedPiece>& pieces) const override { return chat_logprobs(engine_, pieces); }
    int n_;
    GroundedPassages passages_;
    std::vector<std::string> texts_;
};

// /v1/completions: text pieces.
class CompletionStreamFormat : public OpenAiStreamFormat {
public:
    CompletionStreamFormat(const Engine& engine, std::string id, std::string model, bool logprobs, bool usage)
        : OpenAiStreamFormat(engine, std::move(id), std::move(model), "text_completion", "text", logprobs, usage) {}

private:
    json content(const std::string& text) const override { return text; }
    json finish_content() const override { return ""; }
    json logprobs_json(const std::vector<GeneratedPiece>& pieces) const override {
        return completion_logprobs(engine_, pieces, 0);
    }
};

void chat_completions(RouteContext& context, const httplib::Request& req, httplib::Response& res, RequestRecord& record) {
    const json body = parse_json_body(req.body);
    JsonFields f(body, "");
    const std::string model = require_model_field(f);
    const json messages = normalize_messages(f);
    Engine& engine = require_generating_model(context);
    ModelChoice chosen = resolve_model(engine, model);
    apply_lora_field(f, engine, chosen);

    CompletionRequest r;
    r.model = chosen.name;
    r.adapters = chosen.adapters;
    parse_common(f, engine, r);
    auto max_tokens = f.integer("max_completion_tokens", 1, INT32_MAX);
    if (!max_tokens) max_tokens = f.integer("max_tokens", 1, INT32_MAX);
    r.max_tokens = int(max_tokens.value_or(0));
    const bool logprobs = f.boolean("logprobs").value_or(false);
    const auto top = f.integer("top_logprobs", 0, 20);
    if (top && !logprobs) throw_invalid("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
    if (logprobs) r.top_logprobs = int(top.value_or(0));
    r.sampling.json = parse_openai_response_format(f, engine);
    if (f.get("tools") || f.get("functions")) {
        // Accepted for compatibility; the template may render them, the model answers in text.
    }
    ChatPrompt prompt =
        chat_prompt(engine, context.knowledge_bases, context.knowledge_bases.parse_field(f), messages, r.max_tokens);
    r.prompt = std::move(prompt.prompt);
    const GroundedPassages passages = std::move(prompt.passages);
    r.prompt_param = "messages";
    auto jobs = make_jobs(r, engine);
    record.tokens_in = int64_t(r.prompt.size());
    auto streams = engine.scheduler().submit(std::move(jobs));
    const std::string id = new_id("chatcmpl");

    if (r.stream) {
        auto format =
            std::make_unique<ChatStreamFormat>(engine, id, r.model, r.n, logprobs, r.include_usage, passages);
        stream_response(res, "text/event-stream", std::move(streams), std::move(format), context.log.record(&req));
        return;
    }
    auto choice_json = [&engine, logprobs](size_t i, const CollectedChoice& choice) {
        return json{{"index", i},
                    {"message", {{"role", "assistant"}, {"content", choice.text()}, {"refusal", nullptr}}},
                    {"logprobs", logprobs ? chat_logprobs(engine, choice.pieces) : json(nullptr)},
                    {"finish_reason", OpenAiStreamFormat::finish_reason(choice.summary)}};
    };
    auto build = [model = r.model, id, choice_json, passages](std::vector<CollectedChoice> choices, RequestRecord& rec) {
        json extra = json::object();
        if (passages) extra["citations"] = citations_json(*passages, answer_texts(choices));
        return completion_body(model, id, "chat.completion", choices, choice_json, rec, extra);
    };
    respond_when_done(res, std::move(streams), context.log.record(&req), context.options.heartbeat_ms, build, openai_error_body);
}

// `prompt`: a string, an array of one string, or token ids (an array of integers).
std::vector<int32_t> completion_prompt(const JsonFields& f, Engine& engine) {
    const json* prompt = f.get("prompt");
    if (!prompt) throw_invalid("prompt", "'prompt' is required");
    if (prompt->is_string()) return engine.tokenize(prompt->get<std::string>(), true);
    if (prompt->is_array() && !prompt->empty()) {
        if ((*prompt)[0].is_string()) {
            if (prompt->size() != 1)
                throw_invalid("prompt", "'prompt' as an array of strings must hold exactly one string (batch prompts "
                                        "are not supported; send one request each)");
            return engine.tokenize((*prompt)[0].get<std::string>(), true);
        }
        std::vector<int32_t> ids;
        const int vocab = int(engine.vocabulary()->bytes.size());
        for (size_t i = 0; i < prompt->size(); ++i) {
            const json& v = (*prompt)[i];
            if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= vocab)
                throw_invalid(fmt::format("prompt[{}]", i),
                              fmt::format("'prompt[{}]' must be a token id between 0 and {}", i, vocab - 1));
            ids.push_back(int32_t(v.get<int64_t>()));
        }
        return ids;
    }
    throw_invalid("prompt", fmt::format("'prompt' must be a string, an array of one string, or an array of token ids, "
                                        "not {}", prompt->is_array() ? "an empty array" : json_type_name(*prompt)));
}

void completions(RouteContext& context, const httplib::Request& req, httplib::Response& res, RequestRecord& record) {
    const json body = parse_json_body(req.body);
    JsonFields f(body, "");
    const std::string model = require_model_field(f);
    Engine& engine = require_generating_model(context);
    ModelChoice chosen = resolve_model(engine, model);
    apply_lora_field(f, engine, chosen);
    CompletionRequest r;
    r.model = chosen.name;
    r.adapters = chosen.adapters;
    parse_common(f, engine, r);
    r.max_tokens = int(f.integer("max_tokens", 1, INT32_MAX).value_or(16));  // OpenAI's default for completions
    const auto logprobs = f.integer("logprobs", 0, 5);
    if (logprobs) r.top_logprobs = int(*logprobs);
    const bool echo = f.boolean("echo").value_or(false);
    if (f.get("suffix")) throw_invalid("suffix", "'suffix' (fill-in-the-middle) is not supported by this model");
    if (auto best_of = f.integer("best_of", 1, 16); best_of && *best_of != r.n)
        throw_invalid("best_of", "'best_of' must equal 'n' (server-side best-of is not supported)");
    r.prompt = completion_prompt(f, engine);
    r.prompt_param = "prompt";
    auto jobs = make_jobs(r, engine);
    record.tokens_in = int64_t(r.prompt.size());
    auto streams = engine.scheduler().submit(std::move(jobs));
    const std::string id = new_id("cmpl");
    if (r.stream) {
        auto format = std::make_unique<CompletionStreamFormat>(engine, id, r.model, logprobs.has_value(),
                                                               r.include_usage);
        stream_response(res, "text/event-stream", std::move(streams), std::move(format), context.log.record(&req));
        return;
    }
    const std::string echoed = echo ? engine.detokenize(r.prompt) : std::string();
    auto choice_json = [&engine, echoed, logprobs](size_t i, const CollectedChoice& choice) {
        return json{{"text", echoed + choice.text()},
                    {"index", i},
                    {"logprobs", logprobs ? completion_logprobs(engine, choice.pieces, echoed.size()) : json(nullptr)},
                    {"finish_reason", OpenAiStreamFormat::finish_reason(choice.summary)}};
    };
    auto build = [model = r.model, id, choice_json](std::vector<CollectedChoice> choices, RequestRecord& rec) {
        return completion_body(model, id, "text_completion", choices, choice_json, rec);
    };
    respond_when_done(res, std::move(streams), context.log.record(&req), context.options.heartbeat_ms, build, openai_error_body);
}

void embeddings(RouteContext& context, const httplib::Request& req, httplib::Response& res, RequestRecord& record) {
    const json body = parse_json_body(req.body);
    JsonFields f(body, "");
    const std::string model = require_model_field(f);
    Engine& engine = require_model(context);
    ModelChoice chosen = resolve_model(engine, model);
    apply_lora_field(f, engine, chosen);
    const auto format = f.string("encoding_format").value_or("float");
    if (format != "float")
        throw_invalid("encoding_format", fmt::format("'encoding_format' is '{}'; only 'float' is supported", format));
    if (f.get("dimensions")) throw_invalid("dimensions", "'dimensions' is not supported: this model has fixed-size embeddings");
    const json* input = f.get("input");
    if (!input) throw_invalid("input", "'input' is required");
    std::vector<std::vector<int32_t>> inputs;
    auto add_text = [&](const json& v, const std::string& path) {
        if (!v.is_string()) throw_invalid(path, fmt::format("'{}' must be a string, not {}", path, json_type_name(v)));
        if (v.get<std::string>().empty()) throw_invalid(path, fmt::format("'{}' must not be empty", path));
        inputs.push_back(engine.tokenize(v.get<std::string>(), true));
    };
    if (input->is_string()) {
        add_text(*input, "input");
    } else if (input->is_array() && !input->empty()) {
        if (input->size() > 256) throw_invalid("input", "'input' may hold at most 256 entries");
        for (size_t i = 0; i < input->size(); ++i) add_text((*input)[i], fmt::format("input[{}]", i));
    } else {
        throw_invalid("input", "'input' must be a string or a non-empty array of strings");
    }
    const int context_length = engine.scheduler().context_length();
    json data = json::array();
    int64_t total = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (int(inputs[i].size()) > context_length)
            throw ApiError(400, fmt::format("'input[{}]' has {} tokens; the maximum is {}", i, inputs[i].size(), context_length),
                           "invalid_request_error", "input", "context_length_exceeded");
        total += int64_t(inputs[i].size());
    }
    for (size_t i = 0; i < inputs.size(); ++i)
        data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", engine.embed(inputs[i], chosen.adapters)}});
    record.tokens_in = total;
    write_json(res, to_json_text({{"object", "list"}, {"data", data}, {"model", chosen.name},
                                  {"usage", {{"prompt_tokens", total}, {"total_tokens", total}}}}));
}

}  // namespace

void add_openai_routes(httplib::Server& http, RouteContext& context) {
    auto route = [&](void (*fn)(RouteContext&, const httplib::Request&, httplib::Response&, RequestRecord&)) {
        return make_handler(context.log, ErrorShape::openai,
                            [&context, fn](const httplib::Request& req, httplib::Response& res, RequestRecord& record) {
            fn(context, req, res, record);
        });
    };
    http.Post("/v1/chat/completions", route(chat_completions));
    http.Post("/v1/completions", route(completions));
    http.Post("/v1/embeddings", route(embeddings));
}

}  // namespace slm::server
