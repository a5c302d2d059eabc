// Grounded answers (`slm serve --rag`) on the real tiny model, which is also the KB's embedding
// model: the `rag` field's citations map to the right files and lines, the prompt is the grounded
// conversation rendered by the model's template, streams carry the citations in a chunk before
// [DONE] (ollama: in the last line), requests without the field are unchanged, and the errors.
#include "server/grounding.h"
#include "server/knowledge_bases.h"
#include "server/server_test_support.h"

#include "testing/testing.h"

#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/grounded_prompt.h>
#include <slm/model.h>
#include <slm/reranker.h>
#include <slm/thread_pool.h>
#include <slm/tokenizer.h>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace slm::server::test {
namespace {

using nlohmann::json;

void write_doc(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
}

// A KB of `docs` (a folder) embedded by `embedder`, recording `model_path` as its model.
void build_kb(const std::string& kb_path, const std::string& docs, rag::TextEmbedder& embedder,
              const std::string& model_path) {
    rag::IndexOptions options;
    options.progress = false;
    options.chunking = {64, 8};
    auto kb = rag::KnowledgeBase::open(kb_path, rag::KnowledgeBase::Access::write);
    const std::string paths[] = {docs};
    kb.index(paths, embedder, model_path, options);
}

// A citation back as the passage it stands for.
rag::Passage passage_of(const json& c) {
    rag::Passage p;
    p.path = c["path"].get<std::string>();
    p.page = c["page"].get<int>();
    p.line_begin = c["line_begin"].get<int>();
    p.line_end = c["line_end"].get<int>();
    p.text = c["text"].get<std::string>();
    return p;
}

// Every text the same vector: a KB whose recorded model is not one the server can load.
class ConstantEmbedder : public rag::TextEmbedder {
public:
    std::string id() const override { return "constant-4"; }
    int dim() const override { return 4; }
    size_t count_tokens(std::string_view text) const override { return text.size() / 4 + 1; }
    std::vector<std::vector<float>> embed(std::span<const std::string> texts) override {
        return std::vector<std::vector<float>>(texts.size(), std::vector<float>{1, 0, 0, 0});
    }
};

class RagRoutes : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string model = tiny_model_path();
        if (model.empty()) return;
        root_ = new std::string(slm::test::temp_dir() + "/rag-routes");
        write_doc(*root_ + "/docs/lighthouse.md",
                  "# The lighthouse\n\nThe lighthouse keeper lights the lamp at dusk.\nShe climbs 120 steps.\n");
        write_doc(*root_ + "/docs/bakery.txt", "The bakery opens at six and sells rye bread and croissants.\n");
        write_doc(*root_ + "/docs/garden.md", "# Garden\n\nTomatoes need sun; water them every morning.\n");
        auto embedder = rag::open_model_embedder(model, 2);
        build_kb(*root_ + "/notes.kb", *root_ + "/docs", *embedder, model);
        // The same documents embedded with last-token pooling, not the model's own (mean): the
        // server must embed this KB's queries the same way.
        auto last = rag::open_model_embedder(model, 2, "last");
        build_kb(*root_ + "/notes-last.kb", *root_ + "/docs", *last, model);
        ServerOptions options;
        options.model_path = model;
        options.parallel = 2;
        options.threads = 2;
        options.context = 1024;
        options.rag = {{"notes", *root_ + "/notes.kb"}, {"last", *root_ + "/notes-last.kb"}};
        server_ = new RunningServer(start_server(options, load_model_engine(options)));
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
        delete root_;
        root_ = nullptr;
    }
    void SetUp() override {
        if (!server_) GTEST_SKIP() << "../shared/models/tinyqwen2-bpe-11m not found";
    }
    static Engine& engine() { return *server_->server->model(); }
    static httplib::Result send(const std::string& path, const json& body) {
        return server_->client().Post(path, body.dump(), "application/json");
    }
    static json post(const std::string& path, const json& body) {
        auto r = send(path, body);
        EXPECT_TRUE(r);
        if (!r) return json();
        EXPECT_EQ(r->status, 200) << r->body;
        return json::parse(r->body);
    }
    static json chat(const std::string& question, json rag = nullptr) {
        json body = {{"model", engine().info().id},
                     {"messages", {{{"role", "user"}, {"content", question}}}},
                     {"max_tokens", 12},
                     {"temperature", 0}};
        if (!rag.is_null()) body["rag"] = rag;
        return body;
    }

    static RunningServer* server_;
    static std::string* root_;
};
RunningServer* RagRoutes::server_ = nullptr;
std::string* RagRoutes::root_ = nullptr;

const char* kQuestion = "When does the lighthouse keeper light the lamp?";

TEST_F(RagRoutes, ListsTheKnowledgeBases) {
    auto r = server_->client().Get("/v1/rag/kbs");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json list = json::parse(r->body);
    EXPECT_EQ(list["object"], "list");
    ASSERT_EQ(list["data"].size(), 2u);
    const json& kb = list["data"][0];
    EXPECT_EQ(kb["name"], "notes");
    EXPECT_EQ(kb["sources"], 3);
    EXPECT_EQ(kb["chunks"], 3);
    EXPECT_EQ(kb["dim"], 320);
    EXPECT_EQ(kb["search"], "exact");
    EXPECT_NE(kb["embedding_model"].get<std::string>().find("qwen2-320d"), std::string::npos) << kb;
}

TEST_F(RagRoutes, GroundedAnswerCitesThePassagesOfTheRightSources) {
    const json out = post("/v1/chat/completions", chat(kQuestion, {{"kb", "notes"}, {"k", 2}, {"mode", "bm25"}}));
    ASSERT_TRUE(out.contains("citations")) << out;
    const json& citations = out["citations"];
    ASSERT_EQ(citations.size(), 2u) << out;
    EXPECT_EQ(citations[0]["number"], 1);
    EXPECT_TRUE(citations[0]["path"].get<std::string>().ends_with("/docs/lighthouse.md")) << citations[0];
    EXPECT_EQ(citations[0]["page"], 0);
    EXPECT_EQ(citations[0]["line_begin"], 1);
    EXPECT_EQ(citations[0]["line_end"], 4);
    EXPECT_NE(citations[0]["text"].get<std::string>().find("lights the lamp at dusk"), std::string::npos);
    EXPECT_TRUE(citations[0]["source"].get<std::string>().ends_with("lighthouse.md:1-4")) << citations[0];
    EXPECT_GT(citations[0]["score"].get<double>(), citations[1]["score"].get<double>());
    EXPECT_EQ(citations[1]["number"], 2);
    // The tiny base model never writes [n]; `cited` follows the answer.
    const std::string answer = out["choices"][0]["message"]["content"];
    EXPECT_EQ(citations[0]["cited"].get<bool>(), answer.find("[1]") != std::string::npos);

    // The prompt is the grounded conversation, rendered by the model's template.
    std::vector<rag::Passage> passages;
    for (const json& c : citations) passages.push_back(passage_of(c));
    const auto messages = rag::grounded_messages(nlohmann::ordered_json::array(), kQuestion, passages);
    const auto prompt = engine().tokenize(engine().render_chat(json::parse(messages.dump())), false);
    EXPECT_EQ(out["usage"]["prompt_tokens"], prompt.size());
}

TEST_F(RagRoutes, KnowledgeBaseIndexedWithOtherPoolingIsQueriedWithIt) {
    auto r = server_->client().Get("/v1/rag/kbs");
    ASSERT_TRUE(r);
    const json list = json::parse(r->body);
    const json& kb = list["data"][1];
    EXPECT_EQ(kb["name"], "last");
    EXPECT_NE(kb["embedding_model"].get<std::string>().find("pooling=last"), std::string::npos) << kb;

    const json out = post("/v1/chat/completions", chat(kQuestion, {{"kb", "last"}, {"k", 3}, {"mode", "vector"}}));
    const json& citations = out["citations"];
    ASSERT_EQ(citations.size(), 3u) << out;
    // Vector scores are cosine similarities: those of last-token vectors of the question and the chunk.
    auto last = rag::open_model_embedder(tiny_model_path(), 2, "last");
    for (const json& c : citations) {
        const std::string texts[] = {kQuestion, c["text"].get<std::string>()};
        auto v = last->embed(texts);
        double dot = 0, n0 = 0, n1 = 0;
        for (size_t i = 0; i < v[0].size(); ++i)
            dot += double(v[0][i]) * v[1][i], n0 += double(v[0][i]) * v[0][i], n1 += double(v[1][i]) * v[1][i];
        EXPECT_NEAR(c["score"].get<double>(), dot / std::sqrt(n0 * n1), 1e-4) << c;
    }
    // Hybrid (the default) retrieves from it too, BM25 putting the lighthouse first.
    const json hybrid = post("/v1/chat/completions", chat(kQuestion, {{"kb", "last"}, {"k", 1}}));
    ASSERT_EQ(hybrid["citations"].size(), 1u) << hybrid;
    EXPECT_TRUE(hybrid["citations"][0]["path"].get<std::string>().ends_with("/docs/lighthouse.md"));
}

TEST_F(RagRoutes, RerankKeepsTheBestKByTheModelsScores) {
    const json out =
        post("/v1/chat/completions", chat(kQuestion, {{"kb", "notes"}, {"k", 2}, {"rerank", true}}));
    const json& citations = out["citations"];
    ASSERT_EQ(citations.size(), 2u) << out;
    // All three chunks were candidates (hybrid: the vector list holds every chunk); the two the
    // model scores best are kept, in order. (Scores packed with other passages agree to ~1e-5.)
    auto model = Model::load(tiny_model_path());
    auto tokenizer = Tokenizer::from_model_path(tiny_model_path());
    ThreadPool pool(2);
    rag::Reranker reranker(*model, *tokenizer, pool);
    std::vector<std::string> chunks;
    for (const json& c : citations) chunks.push_back(c["text"].get<std::string>());
    const std::vector<double> expected = reranker.score(kQuestion, chunks);
    for (size_t i = 0; i < citations.size(); ++i)
        EXPECT_NEAR(citations[i]["rerank_score"].get<double>(), expected[i], 1e-3) << citations[i];
    EXPECT_GE(citations[0]["rerank_score"].get<double>(), citations[1]["rerank_score"].get<double>());
    // The one left out scores lower than both.
    std::vector<std::string> left_out;
    for (const std::string doc : {"lighthouse.md", "bakery.txt", "garden.md"}) {
        bool cited = false;
        for (const json& c : citations) cited = cited || c["path"].get<std::string>().ends_with(doc);
        if (!cited) left_out.push_back(slm::read_text_file(*root_ + "/docs/" + doc));
    }
    ASSERT_EQ(left_out.size(), 1u);
    EXPECT_LE(reranker.score(kQuestion, left_out)[0], citations[1]["rerank_score"].get<double>() + 1e-3);

    // Without rerank the citations carry no rerank_score.
    const json plain = post("/v1/chat/completions", chat(kQuestion, {{"kb", "notes"}, {"k", 2}, {"mode", "bm25"}}));
    EXPECT_FALSE(plain["citations"][0].contains("rerank_score")) << plain;
    const json off = post("/v1/chat/completions",
                          chat(kQuestion, {{"kb", "notes"}, {"k", 2}, {"mode", "bm25"}, {"rerank", false}}));
    EXPECT_EQ(off["citations"], plain["citations"]);
    const json two = post("/v1/chat/completions",
                          chat(kQuestion, {{"kb", "notes"}, {"k", 1}, {"mode", "bm25"}, {"rerank", 2}}));
    ASSERT_EQ(two["citations"].size(), 1u) << two;
    EXPECT_TRUE(two["citations"][0].contains("rerank_score"));

    expect_openai_error(send("/v1/chat/completions", chat(kQuestion, {{"kb", "notes"}, {"rerank", "yes"}})), 400,
                        "rag.rerank");
    expect_openai_error(send("/v1/chat/completions", chat(kQuestion, {{"kb", "notes"}, {"rerank", 0}})), 400,
                        "rag.rerank");
}

TEST_F(RagRoutes, HybridIsTheDefaultModeAndKeepsTheConversation) {
    json body = chat(kQuestion, {{"kb", "notes"}});
    body["messages"] = {{{"role", "system"}, {"content", "Be brief."}},
                        {{"role", "user"}, {"content", "Hello"}},
                        {{"role", "assistant"}, {"content", "Hi."}},
                        {{"role", "user"}, {"content", kQuestion}}};
    const json out = post("/v1/chat/completions", body);
    const json& citations = out["citations"];
    ASSERT_EQ(citations.size(), 3u) << out;  // k 5, three chunks in the KB
    std::vector<rag::Passage> passages;
    for (const json& c : citations) passages.push_back(passage_of(c));
    nlohmann::ordered_json history = nlohmann::ordered_json::parse(body["messages"].dump());
    history.erase(history.size() - 1);
    const auto messages = rag::grounded_messages(history, kQuestion, passages);
    const auto prompt = engine().tokenize(engine().render_chat(json::parse(messages.dump())), false);
    EXPECT_EQ(out["usage"]["prompt_tokens"], prompt.size());
}

TEST_F(RagRoutes, RequestWithoutTheFieldIsUnchanged) {
    const json plain = post("/v1/chat/completions", chat(kQuestion));
    EXPECT_FALSE(plain.contains("citations")) << plain;
    const json messages = {{{"role", "user"}, {"content", kQuestion}}};
    EXPECT_EQ(plain["usage"]["prompt_tokens"], engine().tokenize(engine().render_chat(messages), false).size());
    const json grounded = post("/v1/chat/completions", chat(kQuestion, {{"kb", "notes"}}));
    EXPECT_GT(grounded["usage"]["prompt_tokens"].get<int>(), plain["usage"]["prompt_tokens"].get<int>() + 20);
}

TEST_F(RagRoutes, StreamSendsTheCitationsInAChunkBeforeUsageAndDone) {
    json body = chat(kQuestion, {{"kb", "notes"}, {"k", 2}, {"mode", "bm25"}});
    const json whole = post("/v1/chat/completions", body);
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    auto r = send("/v1/chat/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const SseEvents sse = parse_sse(r->body);
    ASSERT_TRUE(sse.done);
    ASSERT_GE(sse.events.size(), 4u);
    const json& cited = sse.events[sse.events.size() - 2];
    const json& usage = sse.events.back();
    EXPECT_EQ(cited["object"], "chat.completion.chunk");
    EXPECT_TRUE(cited["choices"].empty());
    EXPECT_EQ(cited["citations"], whole["citations"]);
    EXPECT_TRUE(usage.contains("usage") && usage["usage"].is_object());
    std::string text;
    for (size_t i = 0; i + 2 < sse.events.size(); ++i) {
        EXPECT_FALSE(sse.events[i].contains("citations"));
        const json& choice = sse.events[i]["choices"][0];
        if (choice["delta"].contains("content")) text += choice["delta"]["content"].get<std::string>();
    }
    EXPECT_EQ(text, whole["choices"][0]["message"]["content"]);
}

TEST_F(RagRoutes, OllamaChatCarriesTheCitationsInItsLastLine) {
    json body = {{"model", engine().info().id},
                 {"messages", {{{"role", "user"}, {"content", kQuestion}}}},
                 {"options", {{"temperature", 0}, {"num_predict", 8}}},
                 {"rag", {{"kb", "notes"}, {"k", 1}, {"mode", "bm25"}}}};
    body["stream"] = false;
    const json once = post("/api/chat", body);
    ASSERT_EQ(once["citations"].size(), 1u) << once;
    EXPECT_TRUE(once["citations"][0]["path"].get<std::string>().ends_with("lighthouse.md"));
    body["stream"] = true;
    auto r = send("/api/chat", body);
    ASSERT_TRUE(r);
    const auto lines = parse_ndjson(r->body);
    ASSERT_GE(lines.size(), 2u);
    EXPECT_TRUE(lines.back()["done"].get<bool>());
    EXPECT_EQ(lines.back()["citations"], once["citations"]);
    for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_FALSE(lines[i].contains("citations"));
}

TEST_F(RagRoutes, UnknownKnowledgeBaseIsA400NamingItAndTheServedOnes) {
    auto r = send("/v1/chat/completions", chat(kQuestion, {{"kb", "nosuch"}}));
    expect_openai_error(r, 400, "rag.kb");
    const std::string message = json::parse(r->body)["error"]["message"];
    EXPECT_NE(message.find("nosuch"), std::string::npos) << message;
    EXPECT_NE(message.find("notes"), std::string::npos) << message;
    EXPECT_EQ(json::parse(r->body)["error"]["code"], "knowledge_base_not_found");

    expect_openai_error(send("/v1/chat/completions", chat(kQuestion, {{"k", 2}})), 400, "rag.kb");
    expect_openai_error(send("/v1/chat/completions", chat(kQuestion, {{"kb", "notes"}, {"mode", "dense"}})), 400,
                        "rag.mode");
    expect_openai_error(send("/v1/chat/completions", chat(kQuestion, {{"kb", "notes"}, {"k", 0}})), 400, "rag.k");
    expect_openai_error(send("/v1/chat/completions", chat(kQuestion, {{"kb", "notes"}, {"top", 2}})), 400, "rag.top");
    expect_openai_error(send("/v1/chat/completions", chat(kQuestion, "notes")), 400, "rag");
    json last_not_user = chat(kQuestion, {{"kb", "notes"}});
    last_not_user["messages"].push_back({{"role", "assistant"}, {"content", "The"}});
    expect_openai_error(send("/v1/chat/completions", last_not_user), 400, "messages");

    json ollama = {{"model", engine().info().id},
                   {"messages", {{{"role", "user"}, {"content", kQuestion}}}},
                   {"rag", {{"kb", "nosuch"}}}};
    auto o = send("/api/chat", ollama);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->status, 400);
    EXPECT_NE(json::parse(o->body)["error"].get<std::string>().find("nosuch"), std::string::npos) << o->body;
}

TEST(RagCitations, MarkThePassagesTheAnswersCite) {
    std::vector<rag::Passage> passages(3);
    for (size_t i = 0; i < 3; ++i) {
        passages[i].path = "/kb/doc" + std::to_string(i) + ".md";
        passages[i].line_begin = 1;
        passages[i].line_end = 2;
    }
    const std::string answers[] = {"It opens at six [2].", "See [3][9]."};
    const json c = citations_json(passages, answers);
    ASSERT_EQ(c.size(), 3u);
    EXPECT_FALSE(c[0]["cited"].get<bool>());
    EXPECT_TRUE(c[1]["cited"].get<bool>());
    EXPECT_TRUE(c[2]["cited"].get<bool>());
    EXPECT_EQ(c[1]["number"], 2);
    EXPECT_EQ(c[1]["source"], "/kb/doc1.md:1-2");
}

TEST(RagServing, StartRefusesAKnowledgeBaseItCannotServe) {
    const std::string root = slm::test::temp_dir() + "/rag-refused";
    auto message = [](const std::vector<ServerKnowledgeBase>& kbs) {
        try {
            ServedKnowledgeBases served(kbs, 1);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message({{"gone", root + "/gone.kb"}}).find(root + "/gone.kb: no such knowledge base"),
              std::string::npos);

    write_doc(root + "/docs/a.md", "Alpha beta gamma.\n");
    ConstantEmbedder constant;
    build_kb(root + "/lost-model.kb", root + "/docs", constant, root + "/no-such-model");
    const std::string lost = message({{"lost", root + "/lost-model.kb"}});
    EXPECT_NE(lost.find(root + "/lost-model.kb: its embedding model"), std::string::npos) << lost;
    EXPECT_NE(lost.find("is gone"), std::string::npos) << lost;

    const std::string model = tiny_model_path();
    if (model.empty()) return;
    build_kb(root + "/other-model.kb", root + "/docs", constant, model);
    const std::string other = message({{"other", root + "/other-model.kb"}});
    EXPECT_NE(other.find("built with embedding model 'constant-4'"), std::string::npos) << other;
}

}  // namespace
}  // namespace slm::server::test
