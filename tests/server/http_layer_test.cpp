// The HTTP layer without a model: info routes, API key, CORS and preflight, body size limit,
// unknown routes, request validation errors in OpenAI's shape, and that the server keeps serving.
#include "server/server_test_support.h"

#include <gtest/gtest.h>

namespace slm::server::test {
namespace {

using nlohmann::json;

RunningServer bare_server(ServerOptions options = {}) { return start_server(std::move(options), nullptr); }

TEST(HttpLayer, HealthAndInfoRoutesAnswerWithoutAModel) {
    auto s = bare_server();
    auto c = s.client();
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(json::parse(health->body)["status"], "no_model");
    auto models = c.Get("/v1/models");
    ASSERT_TRUE(models);
    EXPECT_EQ(json::parse(models->body), json({{"object", "list"}, {"data", json::array()}}));
    auto version = c.Get("/api/version");
    ASSERT_TRUE(version);
    EXPECT_TRUE(json::parse(version->body)["version"].is_string());
    auto tags = c.Get("/api/tags");
    ASSERT_TRUE(tags);
    EXPECT_EQ(json::parse(tags->body), json({{"models", json::array()}}));
}

TEST(HttpLayer, UnknownRouteIsA404InOpenAiShape) {
    auto s = bare_server();
    auto c = s.client();
    expect_openai_error(c.Post("/v1/nonexistent", "{}", "application/json"), 404, "");
    // ollama routes answer in ollama's shape.
    auto r = c.Get("/api/nonexistent");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_TRUE(json::parse(r->body)["error"].is_string());
}

TEST(HttpLayer, MalformedJsonIsA400AndTheServerKeepsServing) {
    auto s = bare_server();
    auto c = s.client();
    for (const char* body : {"{\"model\": ", "not json", "[1, 2]", "\"text\"", ""}) {
        auto r = c.Post("/v1/chat/completions", body, "application/json");
        expect_openai_error(r, 400, "");
        EXPECT_NE(json::parse(r->body)["error"]["message"].get<std::string>().find("JSON"), std::string::npos)
            << body;
    }
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
}

TEST(HttpLayer, ValidationErrorsNameTheField) {
    auto s = bare_server();
    auto c = s.client();
    struct Case {
        const char* body;
        const char* param;
    };
    const Case cases[] = {
        {R"({"messages": [{"role": "user", "content": "hi"}]})", "model"},
        {R"({"model": 7, "messages": []})", "model"},
        {R"({"model": "m"})", "messages"},
        {R"({"model": "m", "messages": "hi"})", "messages"},
        {R"({"model": "m", "messages": []})", "messages"},
        {R"({"model": "m", "messages": [{"content": "hi"}]})", "messages[0].role"},
        {R"({"model": "m", "messages": [{"role": "wizard", "content": "hi"}]})", "messages[0].role"},
        {R"({"model": "m", "messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
        {R"({"model": "m", "messages": [{"role": "user"}]})", "messages[0].content"},
        {R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
         "messages[0].content[0].type"},
        {R"({"model": "m", "messages": ["hi"]})", "messages[0]"},
    };
    for (const auto& k : cases) {
        SCOPED_TRACE(k.body);
        expect_openai_error(c.Post("/v1/chat/completions", k.body, "application/json"), 400, k.param);
    }
    expect_openai_error(c.Post("/v1/completions", R"({"prompt": "x"})", "application/json"), 400, "model");
    expect_openai_error(c.Post("/v1/embeddings", R"({"model": 1})", "application/json"), 400, "model");
}

TEST(HttpLayer, GenerationWithoutAModelIsA503) {
    auto s = bare_server();
    auto c = s.client();
    auto r = c.Post("/v1/chat/completions", R"({"model": "m", "messages": [{"role": "user", "content": "hi"}]})",
                    "application/json");
    expect_openai_error(r, 503, "model");
}

TEST(HttpLayer, BodyLargerThanTheLimitIsA413) {
    ServerOptions options;
    options.max_body_bytes = 1024;
    auto s = bare_server(options);
    auto c = s.client();
    const std::string big = R"({"model": "m", "messages": [{"role": "user", "content": ")" + std::string(4096, 'x') + "\"}]}";
    auto r = c.Post("/v1/chat/completions", big, "application/json");
    expect_openai_error(r, 413, "");
    EXPECT_NE(json::parse(r->body)["error"]["message"].get<std::string>().find("1024"), std::string::npos);
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
}

TEST(HttpLayer, ApiKeyIsRequiredWhenSet) {
    ServerOptions options;
    options.api_key = "sekret";
    auto s = bare_server(options);
    auto c = s.client();
    auto missing = c.Get("/v1/models");
    expect_openai_error(missing, 401, "");
    EXPECT_EQ(json::parse(missing->body)["error"]["code"], "invalid_api_key");
    auto wrong = c.Get("/v1/models", {{"Authorization", "Bearer nope"}});
    expect_openai_error(wrong, 401, "");
    auto right = c.Get("/v1/models", {{"Authorization", "Bearer sekret"}});
    ASSERT_TRUE(right);
    EXPECT_EQ(right->status, 200);
    auto ollama = c.Get("/api/tags");
    ASSERT_TRUE(ollama);
    EXPECT_EQ(ollama->status, 401);
    EXPECT_TRUE(json::parse(ollama->body)["error"].is_string());
    // Health checks need no key.
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
}

TEST(HttpLayer, CorsHeadersAndPreflight) {
    auto s = bare_server();
    auto c = s.client();
    auto r = c.Get("/v1/models", {{"Origin", "http://example.com"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
    auto pre = c.Options("/v1/chat/completions", {{"Origin", "http://example.com"},
                                                   {"Access-Control-Request-Method", "POST"},
                                                   {"Access-Control-Request-Headers", "authorization, content-type"}});
    ASSERT_TRUE(pre);
    EXPECT_EQ(pre->status, 204);
    EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "*");
    EXPECT_NE(pre->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
    EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Headers"), "authorization, content-type");
}

TEST(HttpLayer, PreflightNeedsNoApiKey) {
    ServerOptions options;
    options.api_key = "sekret";
    auto s = bare_server(options);
    auto c = s.client();
    auto pre = c.Options("/v1/chat/completions", {{"Access-Control-Request-Method", "POST"}});
    ASSERT_TRUE(pre);
    EXPECT_EQ(pre->status, 204);
}

TEST(HttpLayer, StopIsGracefulAndIdempotent) {
    auto s = bare_server();
    auto c = s.client();
    ASSERT_TRUE(c.Get("/health"));
    s.server->stop();
    s.server->stop();
    s.server->wait();
    auto after = httplib::Client("127.0.0.1", s.port).Get("/health");
    EXPECT_FALSE(after);  // the listener is closed
}

}  // namespace
}  // namespace slm::server::test
