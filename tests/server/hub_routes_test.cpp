// The server and the Hugging Face cache, against the fake Hub of tests/hub: /api/pull streams
// ollama's progress shape and fills the cache; /v1/models and /api/tags then list the cached
// models in OpenAI's and ollama's shapes; errors in ollama's shape; nothing without a cache.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "hub/fake_hub.h"
#include "server/server_test_support.h"
#include "testing/testing.h"

namespace slm::server::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kRepo = "slm-test/tiny";
constexpr const char* kGgufRepo = "slm-test/tiny-GGUF";

std::set<std::string> keys(const json& object) {
    std::set<std::string> out;
    for (const auto& [k, v] : object.items()) out.insert(k);
    return out;
}

// A real safetensors file of one BF16 tensor [1536, 1024] (1.57M parameters, 3 MiB), so that the
// listing can count its parameters from the header.
std::string tiny_safetensors() {
    std::string header = R"({"w":{"dtype":"BF16","shape":[1536,1024],"data_offsets":[0,3145728]}})";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string file(8, '\0');
    for (int i = 0; i < 8; ++i) file[size_t(i)] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
    return file + header + std::string(3 << 20, 'w');
}

class HubRoutes : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        const std::string dir = slm::test::temp_dir() + "/hub-routes-" + info->name();
        std::filesystem::remove_all(dir);
        weights_ = tiny_safetensors();
        hub_.add_file(kRepo, "main", "config.json", R"({"model_type": "qwen2", "torch_dtype": "bfloat16"})");
        hub_.add_file(kRepo, "main", "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}}})");
        hub_.add_file(kRepo, "main", "model.safetensors", weights_);
        hub_.add_file(kGgufRepo, "main", "tiny-Q8_0.gguf", std::string(200000, 'g'));
        HubOptions hub;
        hub.cache_dir = dir + "/cache";
        hub.endpoint = hub_.endpoint();
        hub.timeout_s = 5;
        hub.retries = 1;
        hub.retry_delay_s = 0.01;
        ServerOptions options;
        options.hub = hub;
        server_ = start_server(options, nullptr);
    }

    json get(const std::string& path) {
        auto r = server_.client().Get(path);
        EXPECT_TRUE(r);
        if (!r) return {};
        EXPECT_EQ(r->status, 200) << r->body;
        return json::parse(r->body);
    }

    slm::test::FakeHub hub_;
    std::string weights_;
    RunningServer server_;
};

TEST_F(HubRoutes, PullStreamsOllamaProgressThenTheModelIsListed) {
    auto r = server_.client().Post("/api/pull", json{{"model", kRepo}}.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
    const auto lines = parse_ndjson(r->body);
    ASSERT_GE(lines.size(), 5u) << r->body;
    EXPECT_EQ(lines.front(), json({{"status", "pulling manifest"}}));
    const std::string digest = "sha256:" + hub_.sha256(kRepo, "main", "model.safetensors");
    uint64_t weights_completed = 0;
    std::set<std::string> files;
    for (size_t i = 1; i + 3 < lines.size(); ++i) {
        const json& l = lines[i];
        EXPECT_EQ(keys(l), (std::set<std::string>{"status", "digest", "total", "completed"})) << l;
        EXPECT_EQ(l["status"], "downloading " + l["digest"].get<std::string>());
        files.insert(l["digest"]);
        if (l["digest"] == digest) {
            EXPECT_EQ(l["total"], weights_.size());
            EXPECT_GE(l["completed"].get<uint64_t>(), weights_completed);  // never goes back
            weights_completed = l["completed"];
        }
    }
    EXPECT_EQ(weights_completed, weights_.size());
    EXPECT_EQ(files.size(), 3u);  // config, tokenizer, weights
    EXPECT_EQ(lines[lines.size() - 3], json({{"status", "verifying sha256 digest"}}));
    EXPECT_EQ(lines[lines.size() - 2], json({{"status", "writing manifest"}}));
    EXPECT_EQ(lines.back(), json({{"status", "success"}}));

    const json tags = get("/api/tags");
    ASSERT_EQ(tags["models"].size(), 1u) << tags;
    const json& tag = tags["models"][0];
    EXPECT_EQ(keys(tag), (std::set<std::string>{"name", "model", "modified_at", "size", "digest", "details"}));
    EXPECT_EQ(tag["name"], std::string(kRepo) + ":latest");
    EXPECT_EQ(tag["model"], tag["name"]);
    EXPECT_EQ(tag["digest"], hub_.commit(kRepo, "main"));
    EXPECT_GE(tag["size"].get<uint64_t>(), weights_.size());
    EXPECT_THAT(tag["modified_at"].get<std::string>(), ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z"));
    EXPECT_EQ(tag["details"], json({{"parent_model", ""},
                                    {"format", "safetensors"},
                                    {"family", "qwen2"},
                                    {"families", {"qwen2"}},
                                    {"parameter_size", "2M"},
                                    {"quantization_level", "BF16"}}));

    const json models = get("/v1/models");
    EXPECT_EQ(models["object"], "list");
    ASSERT_EQ(models["data"].size(), 1u);
    const json& m = models["data"][0];
    EXPECT_EQ(keys(m), (std::set<std::string>{"id", "object", "created", "owned_by"}));
    EXPECT_EQ(m["id"], kRepo);
    EXPECT_EQ(m["object"], "model");
    EXPECT_EQ(m["owned_by"], "slm-test");
    EXPECT_TRUE(m["created"].is_number_integer());
    EXPECT_EQ(get(std::string("/v1/models/") + kRepo), m);
}

TEST_F(HubRoutes, PullWithoutStreamAnswersOnceAndTakesAQuantTag) {
    auto r = server_.client().Post(
        "/api/pull", json{{"name", std::string(kGgufRepo) + ":q8_0"}, {"stream", false}}.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(json::parse(r->body), json({{"status", "success"}}));
    const json tags = get("/api/tags");
    ASSERT_EQ(tags["models"].size(), 1u);
    EXPECT_EQ(tags["models"][0]["name"], std::string(kGgufRepo) + ":latest");
    EXPECT_EQ(tags["models"][0]["details"]["format"], "gguf");
    EXPECT_EQ(tags["models"][0]["details"]["quantization_level"], "Q8_0");
    EXPECT_EQ(tags["models"][0]["details"]["families"], nullptr);  // no config.json: unknown, as ollama's null

    // ":latest", ollama's default tag, pulls the repository's default: here, already cached.
    auto again = server_.client().Post("/api/pull", json{{"model", std::string(kGgufRepo) + ":latest"}}.dump(),
                                       "application/json");
    ASSERT_TRUE(again);
    const auto lines = parse_ndjson(again->body);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), json({{"status", "success"}}));
}

TEST_F(HubRoutes, PullErrorsAreOllamaErrors) {
    auto streamed = server_.client().Post("/api/pull", json{{"model", "slm-test/nope"}}.dump(), "application/json");
    ASSERT_TRUE(streamed);
    const auto lines = parse_ndjson(streamed->body);
    ASSERT_EQ(lines.size(), 2u) << streamed->body;
    EXPECT_EQ(lines[0], json({{"status", "pulling manifest"}}));
    EXPECT_EQ(keys(lines[1]), std::set<std::string>{"error"});
    EXPECT_THAT(lines[1]["error"].get<std::string>(), HasSubstr("slm-test/nope not found"));

    auto once = server_.client().Post("/api/pull", json{{"model", "slm-test/nope"}, {"stream", false}}.dump(),
                                      "application/json");
    ASSERT_TRUE(once);
    EXPECT_EQ(once->status, 400);
    EXPECT_THAT(json::parse(once->body)["error"].get<std::string>(), HasSubstr("not found"));

    auto bad = server_.client().Post("/api/pull", json{{"model", "no-slash"}}.dump(), "application/json");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_THAT(json::parse(bad->body)["error"].get<std::string>(), HasSubstr("expected org/name"));

    auto missing = server_.client().Post("/api/pull", "{}", "application/json");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 400);
    EXPECT_EQ(get("/api/tags"), json({{"models", json::array()}}));  // nothing was cached
}

TEST(HubRoutesWithoutCache, PullIsA404InOllamaShape) {
    auto s = start_server(ServerOptions{}, nullptr);
    auto r = s.client().Post("/api/pull", json{{"model", kRepo}}.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(keys(json::parse(r->body)), std::set<std::string>{"error"});
}

}  // namespace
}  // namespace slm::server::test
