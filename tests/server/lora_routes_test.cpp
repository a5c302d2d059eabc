// LoRA adapters picked per request on the real tiny model (../shared/models/tinyqwen2-bpe-11m) with
// a PEFT adapter slm trained on it (tests/fixtures/lora/ours/tinyqwen2-squad/adapter): the `lora`
// field and the MODEL:ADAPTER name select the same thing, requests on different adapters batched
// together answer as they do alone, and the listing and error paths.
#include "server/server_test_support.h"

#include "testing/testing.h"

#include <gtest/gtest.h>

#include <future>

namespace slm::server::test {
namespace {

using nlohmann::json;

class LoraRoutes : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string path = tiny_model_path();
        if (path.empty()) return;
        ServerOptions options;
        options.model_path = path;
        options.parallel = 4;
        options.threads = 2;
        options.lora = {{slm::test::fixtures_dir() + "/lora/ours/tinyqwen2-squad/adapter", 1.0f, "squad"}};
        server_ = new RunningServer(start_server(options, load_model_engine(options)));
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        if (!server_) GTEST_SKIP() << "../shared/models/tinyqwen2-bpe-11m not found";
    }
    static Engine& engine() { return *server_->server->model(); }
    static std::string base() { return engine().info().id; }
    static std::string adapter_model() { return base() + ":squad"; }

    static httplib::Result send(const std::string& path, const json& body) {
        auto c = server_->client();
        return c.Post(path, body.dump(), "application/json");
    }
    static json post(const std::string& path, const json& body) {
        auto r = send(path, body);
        EXPECT_TRUE(r);
        if (!r) return json();
        EXPECT_EQ(r->status, 200) << r->body;
        return json::parse(r->body);
    }
    static json get(const std::string& path) {
        auto c = server_->client();
        auto r = c.Get(path);
        EXPECT_TRUE(r);
        if (!r) return json();
        EXPECT_EQ(r->status, 200) << r->body;
        return json::parse(r->body);
    }
    static json completion(const std::string& model, const std::string& prompt) {
        return {{"model", model}, {"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}};
    }
    static std::string text(const json& response) { return response["choices"][0]["text"]; }

    static RunningServer* server_;
};
RunningServer* LoraRoutes::server_ = nullptr;

const std::string kPrompt =
    "Context: The Eiffel Tower was completed in 1889 for the World's Fair in Paris.\n"
    "Question: When was the Eiffel Tower completed?\nAnswer:";

TEST_F(LoraRoutes, LoraFieldEqualsTheAdapterModelNameAndDiffersFromTheBase) {
    json by_field = completion(base(), kPrompt);
    by_field["lora"] = json::array({{{"id", 0}, {"scale", 1.0}}});
    const json with_field = post("/v1/completions", by_field);
    const json with_name = post("/v1/completions", completion(adapter_model(), kPrompt));
    EXPECT_EQ(text(with_field), text(with_name));
    EXPECT_EQ(with_name["model"], adapter_model());

    json none = completion(base(), kPrompt);
    none["lora"] = json::array();
    const std::string base_text = text(post("/v1/completions", none));
    EXPECT_NE(base_text, text(with_name));
    // Scale 0 is the base model too.
    json zero = completion(adapter_model(), kPrompt);
    zero["lora"] = json::array({{{"id", 0}, {"scale", 0.0}}});
    EXPECT_EQ(text(post("/v1/completions", zero)), base_text);
    // A request that names no adapter gets every loaded one at its scale (llama.cpp's default).
    EXPECT_EQ(text(post("/v1/completions", completion(base(), kPrompt))), text(with_name));
}

TEST_F(LoraRoutes, ChatWithTheAdapterByFieldAndByName) {
    json body = {{"model", adapter_model()},
                 {"messages", {{{"role", "user"}, {"content", kPrompt}}}},
                 {"max_tokens", 24},
                 {"temperature", 0}};
    const json by_name = post("/v1/chat/completions", body);
    body["model"] = base();
    body["lora"] = json::array({{{"id", 0}}});  // no scale: the adapter's --lora scale
    const json by_field = post("/v1/chat/completions", body);
    EXPECT_EQ(by_name["choices"][0]["message"]["content"], by_field["choices"][0]["message"]["content"]);
    body["lora"] = json::array();
    EXPECT_NE(post("/v1/chat/completions", body)["choices"][0]["message"]["content"],
              by_name["choices"][0]["message"]["content"]);
}

TEST_F(LoraRoutes, ConcurrentRequestsOnDifferentAdaptersGiveTheirAnswersAlone) {
    const std::vector<std::string> prompts = {kPrompt, "The function", kPrompt, "Once upon a time"};
    auto body_for = [&](size_t i) {
        json body = completion(base(), prompts[i]);
        body["lora"] = i % 2 == 0 ? json::array({{{"id", 0}, {"scale", 1.0}}}) : json::array();
        return body;
    };
    std::vector<std::string> alone;
    for (size_t i = 0; i < prompts.size(); ++i) alone.push_back(text(post("/v1/completions", body_for(i))));
    const auto before = engine().scheduler().stats();
    std::vector<std::future<json>> together;
    for (size_t i = 0; i < prompts.size(); ++i)
        together.push_back(std::async(std::launch::async, [&, i] { return post("/v1/completions", body_for(i)); }));
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(text(together[i].get()), alone[i]) << "request " << i;
    // They overlapped: some steps ran one forward per adapter set.
    EXPECT_GT(engine().scheduler().stats().adapter_split_steps, before.adapter_split_steps);
}

TEST_F(LoraRoutes, UnknownAdapterIsA400NamingIt) {
    auto r = send("/v1/completions", completion(base() + ":nosuch", kPrompt));
    expect_openai_error(r, 400, "model");
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("nosuch"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("adapter_not_found"), std::string::npos) << r->body;

    json body = completion(base(), kPrompt);
    body["lora"] = json::array({{{"id", 7}, {"scale", 1.0}}});
    r = send("/v1/completions", body);
    expect_openai_error(r, 400, "lora[0].id");
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("is 7"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("adapter_not_found"), std::string::npos) << r->body;

    expect_openai_error(send("/v1/chat/completions", {{"model", base()},
                                                      {"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                                                      {"lora", json::object()}}),
                        400, "lora");

    r = send("/api/generate", {{"model", base() + ":nosuch"}, {"prompt", "Hi"}, {"stream", false}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("nosuch"), std::string::npos) << r->body;
    // Another model altogether stays a 404.
    expect_openai_error(send("/v1/completions", completion("other-model:squad", kPrompt)), 404, "model");
}

TEST_F(LoraRoutes, ModelListsNameTheAdapter) {
    const json models = get("/v1/models");
    std::vector<std::string> ids;
    for (const auto& m : models["data"]) ids.push_back(m["id"]);
    EXPECT_EQ(ids, (std::vector<std::string>{base(), adapter_model()}));
    EXPECT_EQ(get("/v1/models/" + adapter_model())["parent"], base());

    const json tag_list = get("/api/tags");
    std::vector<std::string> tags;
    for (const auto& m : tag_list["models"]) tags.push_back(m["name"]);
    EXPECT_EQ(tags, (std::vector<std::string>{base() + ":latest", adapter_model()}));
}

TEST_F(LoraRoutes, OllamaPicksTheAdapterByTag) {
    const json body = {{"model", adapter_model()}, {"prompt", kPrompt}, {"stream", false}, {"raw", true},
                       {"options", {{"temperature", 0}, {"num_predict", 16}}}};
    const json with = post("/api/generate", body);
    EXPECT_EQ(with["model"], adapter_model());
    json base_body = body;
    base_body["model"] = base();
    EXPECT_EQ(post("/api/generate", base_body)["response"], with["response"]);  // default: all applied
}

TEST_F(LoraRoutes, LoraAdaptersRouteListsAndSetsTheDefaults) {
    const json list = get("/lora-adapters");
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["id"], 0);
    EXPECT_EQ(list[0]["name"], "squad");
    EXPECT_EQ(list[0]["scale"], 1.0);
    EXPECT_NE(list[0]["path"].get<std::string>().find("tinyqwen2-squad/adapter"), std::string::npos);

    json none = completion(base(), kPrompt);
    none["lora"] = json::array();
    const std::string base_text = text(post("/v1/completions", none));
    EXPECT_EQ(post("/lora-adapters", json::array({{{"id", 0}, {"scale", 0.0}}}))["success"], true);
    EXPECT_EQ(get("/lora-adapters")[0]["scale"], 0.0);
    EXPECT_EQ(text(post("/v1/completions", completion(base(), kPrompt))), base_text);
    // The adapter's own name still selects it at its --lora scale.
    EXPECT_NE(text(post("/v1/completions", completion(adapter_model(), kPrompt))), base_text);
    post("/lora-adapters", json::array({{{"id", 0}, {"scale", 1.0}}}));
    EXPECT_NE(text(post("/v1/completions", completion(base(), kPrompt))), base_text);
    expect_openai_error(send("/lora-adapters", json::array({{{"id", 3}, {"scale", 1.0}}})), 400, "body[0].id");
}

}  // namespace
}  // namespace slm::server::test
