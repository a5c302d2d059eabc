// Every generation route on the real tiny model (../shared/models/tinyqwen2-bpe-11m), streaming
// and not: response shapes, greedy equivalence of streamed and whole answers, batching that does
// not change results, sampling fields, structured output, every error path, and disconnects.
#include "server/json_grammar.h"
#include "server/server_test_support.h"

#include <slm/file_io.h>

#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <thread>

namespace slm::server::test {
namespace {

using nlohmann::json;

class Routes : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string path = tiny_model_path();
        if (path.empty()) return;
        ServerOptions options;
        options.model_path = path;
        options.parallel = 4;
        options.threads = 2;
        // Non-streaming answers that take more than 40 ms go through the heartbeat path, so the
        // route tests check both ways of answering.
        options.heartbeat_ms = 20;
        // As `slm serve org/name:Q8_0` starts it: the quant tag is a name of the model, not an adapter's.
        options.model_aliases = {"slm-test/tinyqwen2-GGUF:Q8_0"};
        server_ = new RunningServer(start_server(options, load_model_engine(options)));
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        if (!server_) GTEST_SKIP() << "../shared/models/tinyqwen2-bpe-11m not found";
    }
    static httplib::Client client() { return server_->client(); }
    static Engine& engine() { return *server_->server->model(); }
    static std::string model() { return engine().info().id; }

    static json post(const std::string& path, const json& body, int expected_status = 200) {
        auto c = client();
        auto r = c.Post(path, body.dump(), "application/json");
        EXPECT_TRUE(r);
        if (!r) return json();
        EXPECT_EQ(r->status, expected_status) << r->body;
        return json::parse(r->body);
    }
    // The request that started after `before` ends (cancelled) long before its 1500 tokens.
    static void expect_freed_early(const SchedulerStats& before) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (engine().scheduler().stats().completed == before.completed && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const auto after = engine().scheduler().stats();
        EXPECT_EQ(after.completed, before.completed + 1);
        EXPECT_LT(after.tokens - before.tokens, 600);
    }
    static std::string post_raw(const std::string& path, const json& body) {
        auto c = client();
        auto r = c.Post(path, body.dump(), "application/json");
        EXPECT_TRUE(r);
        if (!r) return "";
        EXPECT_EQ(r->status, 200) << r->body;
        return r->body;
    }
    json chat_body(const std::string& user, int max_tokens) const {
        return {{"model", model()},
                {"messages", {{{"role", "system"}, {"content", "You answer about Python."}}, {{"role", "user"}, {"content", user}}}},
                {"max_tokens", max_tokens},
                {"temperature", 0}};
    }

    static RunningServer* server_;
};
RunningServer* Routes::server_ = nullptr;

TEST_F(Routes, ModelsListTheServedModel) {
    auto c = client();
    auto r = c.Get("/v1/models");
    ASSERT_TRUE(r);
    const auto body = json::parse(r->body);
    ASSERT_EQ(body["data"].size(), 1u);
    EXPECT_EQ(body["data"][0]["id"], "tinyqwen2-bpe-11m");
    EXPECT_EQ(body["data"][0]["object"], "model");
    auto one = c.Get("/v1/models/tinyqwen2-bpe-11m");
    ASSERT_TRUE(one);
    EXPECT_EQ(one->status, 200);
    expect_openai_error(c.Get("/v1/models/nope"), 404, "model");
}

TEST_F(Routes, ChatCompletionHasOpenAiShape) {
    const auto r = post("/v1/chat/completions", chat_body("What is a list?", 12));
    EXPECT_EQ(r["object"], "chat.completion");
    EXPECT_EQ(r["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
    EXPECT_TRUE(r["created"].is_number_integer());
    EXPECT_EQ(r["model"], model());
    ASSERT_EQ(r["choices"].size(), 1u);
    const auto& choice = r["choices"][0];
    EXPECT_EQ(choice["index"], 0);
    EXPECT_EQ(choice["message"]["role"], "assistant");
    EXPECT_TRUE(choice["message"]["content"].is_string());
    EXPECT_TRUE(choice["logprobs"].is_null());
    EXPECT_TRUE(choice["finish_reason"] == "stop" || choice["finish_reason"] == "length");
    const auto& usage = r["usage"];
    EXPECT_GT(usage["prompt_tokens"].get<int>(), 10);
    EXPECT_LE(usage["completion_tokens"].get<int>(), 12);
    EXPECT_EQ(usage["total_tokens"], usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());
    // The prompt is the model's chat template rendering.
    const auto expected = engine().tokenize(engine().render_chat(chat_body("What is a list?", 1)["messages"]), false);
    EXPECT_EQ(usage["prompt_tokens"], expected.size());
}

TEST_F(Routes, StreamedChatEqualsTheWholeAnswer) {
    auto body = chat_body("Explain the with statement.", 16);
    const auto whole = post("/v1/chat/completions", body);
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    const auto sse = parse_sse(post_raw("/v1/chat/completions", body));
    ASSERT_TRUE(sse.done);
    ASSERT_GE(sse.events.size(), 3u);
    EXPECT_EQ(sse.events[0]["object"], "chat.completion.chunk");
    EXPECT_EQ(sse.events[0]["choices"][0]["delta"]["role"], "assistant");
    std::string text;
    json finish;
    for (const auto& e : sse.events) {
        EXPECT_EQ(e["id"], sse.events[0]["id"]);
        if (e["choices"].empty()) continue;
        const auto& delta = e["choices"][0]["delta"];
        if (delta.contains("content")) text += delta["content"].get<std::string>();
        if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
    }
    EXPECT_EQ(text, whole["choices"][0]["message"]["content"]);
    EXPECT_EQ(finish, whole["choices"][0]["finish_reason"]);
    // The usage chunk is last, with no choices.
    const auto& last = sse.events.back();
    EXPECT_TRUE(last["choices"].empty());
    EXPECT_EQ(last["usage"]["completion_tokens"], whole["usage"]["completion_tokens"]);
    EXPECT_EQ(last["usage"]["prompt_tokens"], whole["usage"]["prompt_tokens"]);
}

TEST_F(Routes, StreamWithoutUsageHasNoUsageChunk) {
    auto body = chat_body("Hi", 4);
    body["stream"] = true;
    const auto sse = parse_sse(post_raw("/v1/chat/completions", body));
    ASSERT_TRUE(sse.done);
    for (const auto& e : sse.events) EXPECT_FALSE(e.contains("usage"));
}

TEST_F(Routes, GreedyCompletionFollowsTheReferenceContinuation) {
    // reference_greedy.json: transformers' greedy continuation (float32); the first tokens agree.
    const auto refs = json::parse(read_text_file(tiny_model_path() + "/reference_greedy.json"));
    const auto& ref = refs[0];
    const auto r = post("/v1/completions", {{"model", model()},
                                            {"prompt", ref["prompt_ids"]},
                                            {"max_tokens", 8},
                                            {"temperature", 0}});
    std::vector<int32_t> ids = ref["greedy_ids"].get<std::vector<int32_t>>();
    ids.resize(8);
    EXPECT_EQ(r["choices"][0]["text"], engine().detokenize(ids));
    EXPECT_EQ(r["object"], "text_completion");
    EXPECT_EQ(r["usage"]["prompt_tokens"], ref["prompt_ids"].size());
}

TEST_F(Routes, ConcurrentRequestsGiveTheSameAnswersAsAlone) {
    const std::vector<std::string> prompts = {"import os\n", "The function", "class Foo:", "Once upon a time"};
    auto body_for = [&](const std::string& p) {
        return json{{"model", model()}, {"prompt", p}, {"max_tokens", 12}, {"temperature", 0}};
    };
    std::vector<std::string> alone;
    for (const auto& p : prompts) alone.push_back(post("/v1/completions", body_for(p))["choices"][0]["text"]);
    const auto before = engine().scheduler().stats();
    std::vector<std::future<json>> together;
    for (const auto& p : prompts)
        together.push_back(std::async(std::launch::async, [&, p] { return post("/v1/completions", body_for(p)); }));
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(together[i].get()["choices"][0]["text"], alone[i]) << prompts[i];
    EXPECT_GT(engine().scheduler().stats().multi_sequence_forwards, before.multi_sequence_forwards);
}

TEST_F(Routes, StreamedCompletionEqualsTheWholeOne) {
    json body = {{"model", model()}, {"prompt", "def main():"}, {"max_tokens", 10}, {"temperature", 0}};
    const auto whole = post("/v1/completions", body);
    body["stream"] = true;
    const auto sse = parse_sse(post_raw("/v1/completions", body));
    ASSERT_TRUE(sse.done);
    std::string text;
    for (const auto& e : sse.events) {
        EXPECT_EQ(e["object"], "text_completion");
        text += e["choices"][0]["text"].get<std::string>();
    }
    EXPECT_EQ(text, whole["choices"][0]["text"]);
    EXPECT_EQ(sse.events.back()["choices"][0]["finish_reason"], whole["choices"][0]["finish_reason"]);
}

TEST_F(Routes, CompletionEchoAndLogprobs) {
    const auto r = post("/v1/completions", {{"model", model()}, {"prompt", "import"}, {"max_tokens", 4},
                                            {"temperature", 0}, {"echo", true}, {"logprobs", 2}});
    const std::string text = r["choices"][0]["text"];
    EXPECT_EQ(text.rfind("import", 0), 0u);
    const auto& lp = r["choices"][0]["logprobs"];
    EXPECT_EQ(lp["tokens"].size(), 4u);
    EXPECT_EQ(lp["token_logprobs"].size(), 4u);
    EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
}

TEST_F(Routes, SeedMakesSamplingReproducible) {
    json body = {{"model", model()}, {"prompt", "The"}, {"max_tokens", 16}, {"temperature", 1.0}, {"seed", 1234}};
    const auto a = post("/v1/completions", body);
    const auto b = post("/v1/completions", body);
    EXPECT_EQ(a["choices"][0]["text"], b["choices"][0]["text"]);
    body["n"] = 3;
    const auto many = post("/v1/completions", body);
    ASSERT_EQ(many["choices"].size(), 3u);
    EXPECT_EQ(many["choices"][0]["text"], a["choices"][0]["text"]);  // choice 0 uses the seed itself
    for (int i = 0; i < 3; ++i) EXPECT_EQ(many["choices"][i]["index"], i);
}

TEST_F(Routes, StopStringCutsTheAnswer) {
    json body = {{"model", model()}, {"prompt", "Once upon a time"}, {"max_tokens", 24}, {"temperature", 0}};
    const std::string full = post("/v1/completions", body)["choices"][0]["text"];
    ASSERT_GT(full.size(), 12u);
    const std::string stop = full.substr(6, 3);
    body["stop"] = {stop};
    const auto cut = post("/v1/completions", body);
    EXPECT_EQ(cut["choices"][0]["text"], full.substr(0, full.find(stop)));
    EXPECT_EQ(cut["choices"][0]["finish_reason"], "stop");
}

TEST_F(Routes, ChatLogprobsHaveOpenAiShape) {
    auto body = chat_body("Hello", 5);
    body["logprobs"] = true;
    body["top_logprobs"] = 3;
    const auto r = post("/v1/chat/completions", body);
    const auto& content = r["choices"][0]["logprobs"]["content"];
    ASSERT_EQ(content.size(), r["usage"]["completion_tokens"].get<size_t>());
    for (const auto& t : content) {
        EXPECT_TRUE(t["token"].is_string());
        EXPECT_LE(t["logprob"].get<double>(), 0.0);
        EXPECT_TRUE(t["bytes"].is_array());
        ASSERT_EQ(t["top_logprobs"].size(), 3u);
        EXPECT_GE(t["top_logprobs"][0]["logprob"].get<double>(), t["top_logprobs"][1]["logprob"].get<double>());
        // Greedy: the chosen token is the most likely one.
        EXPECT_EQ(t["token"], t["top_logprobs"][0]["token"]);
    }
}

TEST_F(Routes, JsonObjectResponseFormatGivesJson) {
    auto body = chat_body("Describe a cat as JSON.", 40);
    body["response_format"] = {{"type", "json_object"}};
    body["temperature"] = 0.7;
    body["seed"] = 7;
    const auto r = post("/v1/chat/completions", body);
    const std::string text = r["choices"][0]["message"]["content"];
    JsonMatcher matcher(JsonGrammar::any_object(engine().vocabulary()));
    EXPECT_TRUE(matcher.feed(text)) << text;  // a valid JSON prefix at least (it may hit max_tokens)
    if (r["choices"][0]["finish_reason"] == "stop") {
        EXPECT_TRUE(json::parse(text, nullptr, false).is_object()) << text;
    }
}

TEST_F(Routes, JsonSchemaResponseFormatIsEnforced) {
    auto body = chat_body("Pick a color.", 60);
    body["response_format"] = {
        {"type", "json_schema"},
        {"json_schema",
         {{"name", "pick"},
          {"strict", true},
          {"schema", {{"type", "object"},
                      {"properties", {{"color", {{"enum", {"red", "green"}}}}, {"sure", {{"type", "boolean"}}}}},
                      {"required", {"color", "sure"}}}}}}};
    const auto r = post("/v1/chat/completions", body);
    const std::string text = r["choices"][0]["message"]["content"];
    const auto parsed = json::parse(text, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << text;
    EXPECT_TRUE(parsed["color"] == "red" || parsed["color"] == "green") << text;
    EXPECT_TRUE(parsed["sure"].is_boolean()) << text;
    EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
}

TEST_F(Routes, TheNameTheModelWasStartedFromServesIt) {
    json body = chat_body("hi", 2);
    body["model"] = "slm-test/tinyqwen2-GGUF:q8_0";  // the tag in any case, as ollama's
    EXPECT_EQ(post("/v1/chat/completions", body)["model"], model());
    body["model"] = model() + ":Q4_K_M";  // not a name of it: an adapter this server lacks
    auto c = client();
    expect_openai_error(c.Post("/v1/chat/completions", body.dump(), "application/json"), 400, "model");
}

TEST_F(Routes, ErrorsNameTheFieldAndTheServerKeepsServing) {
    auto c = client();
    struct Case {
        json patch;
        const char* param;
        int status;
    };
    const std::vector<Case> cases = {
        {{{"model", "gpt-4"}}, "model", 404},
        {{{"temperature", "hot"}}, "temperature", 400},
        {{{"temperature", 3}}, "temperature", 400},
        {{{"max_tokens", -1}}, "max_tokens", 400},
        {{{"max_tokens", 1.5}}, "max_tokens", 400},
        {{{"n", 0}}, "n", 400},
        {{{"top_p", "x"}}, "top_p", 400},
        {{{"stop", 5}}, "stop", 400},
        {{{"stop", {"a", "b", "c", "d", "e"}}}, "stop", 400},
        {{{"seed", "x"}}, "seed", 400},
        {{{"stream", "yes"}}, "stream", 400},
        {{{"stream_options", {{"include_usage", true}}}}, "stream_options", 400},
        {{{"logit_bias", {{"abc", 1}}}}, "logit_bias.abc", 400},
        {{{"logit_bias", {{"5", 500}}}}, "logit_bias.5", 400},
        {{{"top_logprobs", 2}}, "top_logprobs", 400},
        {{{"presence_penalty", 9}}, "presence_penalty", 400},
        {{{"response_format", {{"type", "xml"}}}}, "response_format.type", 400},
        {{{"response_format", {{"type", "json_schema"}}}}, "response_format.json_schema", 400},
    };
    for (const auto& k : cases) {
        json body = chat_body("hi", 2);
        body.merge_patch(k.patch);
        SCOPED_TRACE(body.dump());
        expect_openai_error(c.Post("/v1/chat/completions", body.dump(), "application/json"), k.status, k.param);
    }
    // Prompt longer than the context.
    std::string essay;
    for (int i = 0; i < 3000; ++i) essay += "word ";
    auto too_long = c.Post("/v1/chat/completions", chat_body(essay, 2).dump(), "application/json");
    expect_openai_error(too_long, 400, "messages");
    EXPECT_EQ(json::parse(too_long->body)["error"]["code"], "context_length_exceeded");
    expect_openai_error(c.Post("/v1/completions", json{{"model", model()}, {"prompt", essay}}.dump(), "application/json"),
                        400, "prompt");
    expect_openai_error(c.Post("/v1/completions", json{{"model", model()}}.dump(), "application/json"), 400, "prompt");
    expect_openai_error(c.Post("/v1/completions", json{{"model", model()}, {"prompt", {1, -4}}}.dump(), "application/json"),
                        400, "prompt[1]");
    // Still serving.
    EXPECT_EQ(post("/v1/chat/completions", chat_body("hi", 2))["object"], "chat.completion");
}

TEST_F(Routes, ClientDisconnectCancelsTheGeneration) {
    const auto before = engine().scheduler().stats();
    auto c = client();
    json body = {{"model", model()}, {"prompt", "Once"}, {"max_tokens", 1500}, {"temperature", 1.0}, {"stream", true},
                 {"logit_bias", {{"0", -100}}}};  // never the end token
    size_t received = 0;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t n, uint64_t, uint64_t) {
        received += n;
        return received < 2000;  // hang up after a few chunks
    };
    auto result = c.send(req);
    EXPECT_FALSE(result);  // we cancelled it
    expect_freed_early(before);
}

// A non-streaming request answered after a while: the body (after the heartbeat spaces) is the
// usual object; a client that hangs up while waiting has its generation cancelled.
TEST_F(Routes, NonStreamingAnswersAfterHeartbeatsAndCancelsWhenTheClientLeaves) {
    json body = {{"model", model()}, {"prompt", "Once"}, {"max_tokens", 200}, {"temperature", 1.0},
                 {"logit_bias", {{"0", -100}}}};
    const std::string raw = post_raw("/v1/completions", body);
    ASSERT_FALSE(raw.empty());
    EXPECT_GT(raw.find('{'), 0u);  // 200 tokens take longer than two 20 ms heartbeats
    EXPECT_EQ(raw.find_first_not_of(' '), raw.find('{'));
    const json answer = json::parse(raw);
    EXPECT_EQ(answer["object"], "text_completion");
    EXPECT_EQ(answer["usage"]["completion_tokens"], 200);

    const auto before = engine().scheduler().stats();
    auto c = client();
    body["max_tokens"] = 1500;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return false; };  // leave at the first space
    EXPECT_FALSE(c.send(req));
    expect_freed_early(before);
}

TEST_F(Routes, EmbeddingsAreMeanPooledHiddenStates) {
    const auto r = post("/v1/embeddings", {{"model", model()}, {"input", {"import os", "import os", "A long day"}}});
    EXPECT_EQ(r["object"], "list");
    ASSERT_EQ(r["data"].size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(r["data"][i]["object"], "embedding");
        EXPECT_EQ(r["data"][i]["index"], i);
        ASSERT_EQ(r["data"][i]["embedding"].size(), size_t(engine().info().embedding_length));
        for (const auto& x : r["data"][i]["embedding"]) EXPECT_TRUE(std::isfinite(x.get<double>()));
    }
    EXPECT_EQ(r["data"][0]["embedding"], r["data"][1]["embedding"]);
    EXPECT_NE(r["data"][0]["embedding"], r["data"][2]["embedding"]);
    EXPECT_GT(r["usage"]["prompt_tokens"].get<int>(), 3);
    auto c = client();
    expect_openai_error(c.Post("/v1/embeddings", json{{"model", model()}}.dump(), "application/json"), 400, "input");
    expect_openai_error(c.Post("/v1/embeddings", json{{"model", model()}, {"input", json::array()}}.dump(), "application/json"),
                        400, "input");
    expect_openai_error(c.Post("/v1/embeddings", json{{"model", model()}, {"input", {"a", 5}}}.dump(), "application/json"),
                        400, "input[1]");
    expect_openai_error(c.Post("/v1/embeddings", json{{"model", model()}, {"input", "a"}, {"encoding_format", "base64"}}.dump(),
                               "application/json"),
                        400, "encoding_format");
}

TEST_F(Routes, OllamaChatStreamsNdjsonAndAnswersWhole) {
    json body = {{"model", "tinyqwen2-bpe-11m:latest"},
                 {"messages", {{{"role", "user"}, {"content", "What is a tuple?"}}}},
                 {"options", {{"temperature", 0}, {"num_predict", 10}}},
                 {"keep_alive", "5m"}};
    const auto lines = parse_ndjson(post_raw("/api/chat", body));  // streams by default
    ASSERT_GE(lines.size(), 2u);
    std::string text;
    for (size_t i = 0; i + 1 < lines.size(); ++i) {
        EXPECT_EQ(lines[i]["done"], false);
        EXPECT_EQ(lines[i]["message"]["role"], "assistant");
        text += lines[i]["message"]["content"].get<std::string>();
    }
    const auto& last = lines.back();
    EXPECT_EQ(last["done"], true);
    EXPECT_TRUE(last["done_reason"] == "stop" || last["done_reason"] == "length");
    EXPECT_GT(last["prompt_eval_count"].get<int>(), 0);
    EXPECT_TRUE(last["total_duration"].is_number_integer());
    body["stream"] = false;
    const auto whole = post("/api/chat", body);
    EXPECT_EQ(whole["message"]["content"], text);
    EXPECT_EQ(whole["done"], true);
    EXPECT_EQ(whole["eval_count"], last["eval_count"]);
    EXPECT_EQ(whole["model"], "tinyqwen2-bpe-11m:latest");
    EXPECT_TRUE(whole["created_at"].is_string());
}

TEST_F(Routes, OllamaGenerateStreamsAndReturnsContext) {
    json body = {{"model", "tinyqwen2-bpe-11m"}, {"prompt", "import sys"}, {"raw", true},
                 {"options", {{"temperature", 0}, {"num_predict", 8}}}};
    const auto lines = parse_ndjson(post_raw("/api/generate", body));
    ASSERT_GE(lines.size(), 2u);
    std::string text;
    for (const auto& l : lines) text += l["response"].get<std::string>();
    EXPECT_TRUE(lines.back()["done"].get<bool>());
    ASSERT_TRUE(lines.back()["context"].is_array());
    body["stream"] = false;
    const auto whole = post("/api/generate", body);
    EXPECT_EQ(whole["response"], text);
    // The context continues the conversation: prompt + answer ids.
    EXPECT_EQ(whole["context"].size(), size_t(whole["prompt_eval_count"].get<int>() + whole["eval_count"].get<int>()));
    // Loading with an empty prompt answers at once.
    const auto load = post("/api/generate", {{"model", "tinyqwen2-bpe-11m"}});
    EXPECT_EQ(load["done_reason"], "load");
}

TEST_F(Routes, OllamaFormatJsonSchema) {
    json body = {{"model", "tinyqwen2-bpe-11m"},
                 {"messages", {{{"role", "user"}, {"content", "yes or no?"}}}},
                 {"stream", false},
                 {"format", {{"type", "object"}, {"properties", {{"answer", {{"enum", {"yes", "no"}}}}}}, {"required", {"answer"}}}},
                 {"options", {{"temperature", 0}, {"num_predict", 60}}}};
    const auto r = post("/api/chat", body);
    const auto parsed = json::parse(r["message"]["content"].get<std::string>(), nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << r.dump();
    EXPECT_TRUE(parsed["answer"] == "yes" || parsed["answer"] == "no");
}

TEST_F(Routes, OllamaInfoRoutes) {
    auto c = client();
    auto tags = c.Get("/api/tags");
    ASSERT_TRUE(tags);
    const auto models = json::parse(tags->body)["models"];
    ASSERT_EQ(models.size(), 1u);
    EXPECT_EQ(models[0]["name"], "tinyqwen2-bpe-11m:latest");
    EXPECT_EQ(models[0]["details"]["family"], "qwen2");
    EXPECT_GT(models[0]["size"].get<int64_t>(), 1000000);
    const auto show = post("/api/show", {{"model", "tinyqwen2-bpe-11m"}});
    EXPECT_EQ(show["model_info"]["general.architecture"], "qwen2");
    EXPECT_GT(show["model_info"]["general.parameter_count"].get<int64_t>(), 10000000);
    EXPECT_NE(show["template"].get<std::string>().find("im_start"), std::string::npos);
}

TEST_F(Routes, OllamaErrorsAreOllamaShaped) {
    auto c = client();
    struct Case {
        json body;
        int status;
        const char* field;
    };
    const std::vector<Case> cases = {
        {{{"messages", json::array()}}, 400, "model"},
        {{{"model", "llama3"}, {"messages", json::array()}}, 404, "llama3"},
        {{{"model", "tinyqwen2-bpe-11m"}, {"messages", 3}}, 400, "messages"},
        {{{"model", "tinyqwen2-bpe-11m"}, {"messages", {{{"content", "x"}}}}}, 400, "messages[0].role"},
        {{{"model", "tinyqwen2-bpe-11m"}, {"messages", json::array()}, {"options", {{"temperature", "x"}}}}, 400,
         "options.temperature"},
        {{{"model", "tinyqwen2-bpe-11m"}, {"messages", json::array()}, {"format", "xml"}}, 400, "format"},
        {{{"model", "tinyqwen2-bpe-11m"}, {"messages", json::array()}, {"keep_alive", true}}, 400, "keep_alive"},
    };
    for (const auto& k : cases) {
        SCOPED_TRACE(k.body.dump());
        auto r = c.Post("/api/chat", k.body.dump(), "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, k.status) << r->body;
        const auto body = json::parse(r->body);
        ASSERT_TRUE(body["error"].is_string()) << r->body;
        EXPECT_NE(body["error"].get<std::string>().find(k.field), std::string::npos) << r->body;
    }
}

}  // namespace
}  // namespace slm::server::test
