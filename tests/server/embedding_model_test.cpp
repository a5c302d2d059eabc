// `slm serve` on an embedding model (the tiny BERT of tests/fixtures/encoders): /v1/embeddings in
// OpenAI's shape and ollama's /api/embed give sentence-transformers' vectors, /api/show lists the
// one capability, and every generation route answers 400 naming the model.
#include "server/server_test_support.h"

#include <slm/file_io.h>
#include <slm/server.h>

#include "testing/testing.h"

#include <gtest/gtest.h>

#include <cmath>

namespace slm::server::test {
namespace {

using nlohmann::json;

const std::string kModel = "bert-cls-normalize";

class EmbeddingModelServer : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ServerOptions options;
        options.model_path = slm::test::fixtures_dir() + "/encoders/" + kModel;
        options.threads = 2;
        server_ = new RunningServer(start_server(options, load_model_engine(options)));
        reference_ = json::parse(read_text_file(options.model_path + "/reference.json"));
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    static httplib::Result post(const std::string& path, const json& body) {
        return server_->client().Post(path, body.dump(), "application/json");
    }
    static json post_ok(const std::string& path, const json& body) {
        const auto r = post(path, body);
        EXPECT_TRUE(r);
        if (!r) return json();
        EXPECT_EQ(r->status, 200) << r->body;
        return json::parse(r->body);
    }
    static RunningServer* server_;
    static json reference_;
};
RunningServer* EmbeddingModelServer::server_ = nullptr;
json EmbeddingModelServer::reference_;

void expect_close(const json& got, const json& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t d = 0; d < got.size(); ++d) EXPECT_NEAR(got[d].get<double>(), want[d].get<double>(), 1e-4) << "dimension " << d;
}

TEST_F(EmbeddingModelServer, OpenAiEmbeddingsHaveTheShapeAndTheVectors) {
    const json texts = {reference_["texts"][0], reference_["texts"][2], reference_["texts"][7]};
    const json r = post_ok("/v1/embeddings", {{"model", kModel}, {"input", texts}});
    EXPECT_EQ(r["object"], "list");
    EXPECT_EQ(r["model"], kModel);
    ASSERT_EQ(r["data"].size(), 3u);
    int64_t tokens = 0;
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(r["data"][i]["object"], "embedding");
        EXPECT_EQ(r["data"][i]["index"], i);
        expect_close(r["data"][i]["embedding"], reference_["embeddings"][i == 0 ? 0 : i == 1 ? 2 : 7]);
        tokens += int64_t(reference_["token_ids"][i == 0 ? 0 : i == 1 ? 2 : 7].size());
    }
    // The long text counts the 24 tokens it was cut to, as sentence-transformers truncates.
    EXPECT_EQ(r["usage"]["prompt_tokens"], tokens);
    EXPECT_EQ(r["usage"]["total_tokens"], tokens);
    const json one = post_ok("/v1/embeddings", {{"model", kModel}, {"input", reference_["texts"][1]}});
    ASSERT_EQ(one["data"].size(), 1u);
    expect_close(one["data"][0]["embedding"], reference_["embeddings"][1]);
}

TEST_F(EmbeddingModelServer, OllamaEmbedReturnsUnitVectors) {
    const json r = post_ok("/api/embed", {{"model", kModel}, {"input", {reference_["texts"][3], reference_["texts"][4]}}});
    EXPECT_EQ(r["model"], kModel);
    ASSERT_EQ(r["embeddings"].size(), 2u);
    expect_close(r["embeddings"][0], reference_["embeddings"][3]);  // the model normalises: ollama's scaling keeps it
    expect_close(r["embeddings"][1], reference_["embeddings"][4]);
    EXPECT_EQ(r["prompt_eval_count"], reference_["token_ids"][3].size() + reference_["token_ids"][4].size());
    EXPECT_TRUE(r["total_duration"].is_number_integer());
    const auto bad = post("/api/embed", {{"model", kModel}, {"input", json::array()}});
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400) << bad->body;
}

TEST_F(EmbeddingModelServer, GenerationRoutesAnswer400NamingTheModel) {
    expect_openai_error(post("/v1/chat/completions", {{"model", kModel}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}),
                        400, "model");
    expect_openai_error(post("/v1/completions", {{"model", kModel}, {"prompt", "hi"}}), 400, "model");
    for (const auto& [path, body] : {std::pair<std::string, json>{"/api/generate", {{"model", kModel}, {"prompt", "hi"}}},
                                     std::pair<std::string, json>{"/api/chat", {{"model", kModel},
                                                                               {"messages", {{{"role", "user"}, {"content", "hi"}}}}}}}) {
        const auto r = post(path, body);
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 400) << path << ": " << r->body;
        EXPECT_NE(r->body.find("embedding model"), std::string::npos) << r->body;
    }
    const json show = post_ok("/api/show", {{"model", kModel}});
    EXPECT_EQ(show["capabilities"], json::array({"embedding"}));
    EXPECT_EQ(show["model_info"]["bert.embedding_length"], 32);
}

}  // namespace
}  // namespace slm::server::test
