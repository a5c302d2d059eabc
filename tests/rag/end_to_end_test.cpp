// End to end with a real model (../shared/models/tinyqwen2-bpe-11m) as both the embedder (a
// decoder in embedding mode) and the generator: index, retrieve, ground a prompt through the
// model's chat template, generate. Skips with a message when ../shared is absent.
#include <gtest/gtest.h>
#include <slm/chat_template.h>
#include <slm/generator.h>
#include <slm/grounded_prompt.h>
#include <slm/model.h>
#include <slm/rag.h>
#include <slm/session.h>
#include <slm/tokenizer.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "rag/test_embedder.h"
#include "testing/testing.h"

namespace slm::rag {
namespace {

TEST(RagEndToEnd, TinyQwenEmbedsRetrievesAndAnswersFromPassages) {
    SLM_REQUIRE_SHARED(shared);
    const std::string model = shared + "/models/tinyqwen2-bpe-11m";
    const std::string root = slm::test::temp_dir() + "/e2e";
    test::write_file(root + "/docs/lighthouse.md",
                     "# The lighthouse\n\nThe lighthouse keeper lights the lamp at dusk and climbs 120 steps.\n");
    test::write_file(root + "/docs/bakery.txt", "The bakery opens at six and sells rye bread and croissants.\n");
    test::write_file(root + "/docs/garden.html", "<h2>Garden</h2><p>Tomatoes need sun; water them every morning.</p>");

    auto embedder = open_model_embedder(model, 2);
    EXPECT_EQ(embedder->dim(), 320);
    const std::string docs[] = {root + "/docs"};
    IndexOptions options;
    options.progress = false;
    options.chunking = {64, 8};
    {
        auto kb = KnowledgeBase::open(root + "/kb", KnowledgeBase::Access::write);
        const IndexReport report = kb.index(docs, *embedder, model, options);
        EXPECT_EQ(report.files_indexed, 3);
        EXPECT_EQ(kb.info().embed_model_id, embedder->id());
    }
    // A query process reopens the model the KB recorded.
    auto kb = KnowledgeBase::open(root + "/kb", KnowledgeBase::Access::read);
    ASSERT_EQ(kb.info().embed_model_path, std::filesystem::absolute(model).lexically_normal().string());
    auto query_embedder = open_model_embedder(kb.info().embed_model_path, 2);
    const auto vector_hits = kb.retrieve("lighthouse keeper lamp", 3, RetrievalMode::vector, query_embedder.get());
    ASSERT_EQ(vector_hits.size(), 3u);
    for (const auto& p : vector_hits) EXPECT_LE(std::abs(p.vector_score), 1.0 + 1e-5);
    const auto passages =
        kb.retrieve("When does the lighthouse keeper light the lamp?", 2, RetrievalMode::hybrid, query_embedder.get());
    ASSERT_FALSE(passages.empty());
    EXPECT_NE(passages[0].path.find("lighthouse.md"), std::string::npos);
    EXPECT_GT(passages[0].bm25_rank, 0);
    EXPECT_GT(passages[0].vector_rank, 0);

    auto generator_model = Model::load(model);
    auto tokenizer = Tokenizer::from_model_path(model);
    const ChatTemplate chat = ChatTemplate::from_model(generator_model->files());
    ChatRenderOptions render;
    render.add_generation_prompt = true;
    const std::string prompt = chat.render(
        grounded_messages(nlohmann::ordered_json::array(), "When does the keeper light the lamp?", passages), render);
    EXPECT_NE(prompt.find("[1] ("), std::string::npos);
    EXPECT_NE(prompt.find("lights the lamp at dusk"), std::string::npos);
    Session session(*generator_model);
    Generator generator(session, *tokenizer, tokenizer->eos_ids());
    SamplerParams greedy;
    greedy.temperature = 0;
    SamplerChain sampler(greedy);
    GenerationOptions go;
    go.max_tokens = 24;
    const auto result = generator.generate(tokenizer->encode(prompt, false, true), sampler, go);
    EXPECT_GT(result.tokens.size(), 0u);
    // Whatever the toy model writes, its citations map only to passages that were in the prompt.
    for (const auto& c : cited_passages(result.text, passages)) EXPECT_LT(c.passage, passages.size());
}

}  // namespace
}  // namespace slm::rag
