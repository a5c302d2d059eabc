// KnowledgeBase: BM25 ranking through FTS5, vector and hybrid retrieval, incremental re-indexing
// (only changed files embedded, counted through the test embedder), rm and ls.
#include <gtest/gtest.h>
#include <slm/error.h>
#include <slm/rag.h>

#include <filesystem>
#include <thread>

#include "rag/test_embedder.h"
#include "testing/testing.h"

namespace slm::rag {
namespace {

namespace fs = std::filesystem;

struct Corpus {
    std::string dir, kb;
    explicit Corpus(const std::string& name) {
        dir = slm::test::temp_dir() + "/" + name + "/docs";
        kb = slm::test::temp_dir() + "/" + name + "/kb.sqlite";
        test::write_file(dir + "/cats.md", "# Cats\n\nCats purr and chase mice. A cat sleeps most of the day.\n");
        test::write_file(dir + "/dogs.txt", "Dogs bark at the mail carrier.\nA dog fetches sticks.\n");
        test::write_file(dir + "/sub/birds.html", "<h1>Birds</h1><p>Birds fly south in winter; some birds sing.</p>");
        test::write_file(dir + "/sub/fish.md", "Fish swim in water. Salmon swim upstream to spawn.\n");
    }
};

TEST(KnowledgeBase, Bm25RanksTheMatchingDocumentFirst) {
    Corpus c("bm25");
    test::HashingEmbedder embedder;
    auto kb = KnowledgeBase::open(c.kb, KnowledgeBase::Access::write);
    const std::string docs[] = {c.dir};
    const IndexReport report = kb.index(docs, embedder, "", test::quiet_index_options());
    EXPECT_EQ(report.files_seen, 4);
    EXPECT_EQ(report.files_indexed, 4);
    EXPECT_TRUE(report.rejected.empty());
    const auto birds = kb.retrieve("why do birds fly south", 3, RetrievalMode::bm25, nullptr);
    ASSERT_FALSE(birds.empty());
    EXPECT_EQ(fs::path(birds[0].path).filename(), "birds.html");
    EXPECT_EQ(birds[0].text, "# Birds\n\nBirds fly south in winter; some birds sing.");
    EXPECT_GT(birds[0].bm25_score, 0);
    EXPECT_EQ(birds[0].bm25_rank, 1);
    // "swim" appears twice in fish.md and nowhere else.
    const auto fish = kb.retrieve("swim", 5, RetrievalMode::bm25, nullptr);
    ASSERT_EQ(fish.size(), 1u);
    EXPECT_EQ(fs::path(fish[0].path).filename(), "fish.md");
    EXPECT_EQ(fish[0].line_begin, 1);
    // Punctuation that is FTS5 syntax is only text here.
    EXPECT_NO_THROW(kb.retrieve("cats\" OR NEAR( -dogs *", 3, RetrievalMode::bm25, nullptr));
}

TEST(KnowledgeBase, VectorAndHybridRetrieval) {
    Corpus c("hybrid");
    test::HashingEmbedder embedder;
    auto kb = KnowledgeBase::open(c.kb, KnowledgeBase::Access::write);
    const std::string docs[] = {c.dir};
    kb.index(docs, embedder, "", test::quiet_index_options());
    const auto vec = kb.retrieve("a dog fetches sticks", 2, RetrievalMode::vector, &embedder);
    ASSERT_EQ(vec.size(), 2u);
    EXPECT_EQ(fs::path(vec[0].path).filename(), "dogs.txt");
    EXPECT_GT(vec[0].vector_score, vec[1].vector_score);
    const auto hybrid = kb.retrieve("a dog fetches sticks", 4, RetrievalMode::hybrid, &embedder);
    ASSERT_EQ(fs::path(hybrid[0].path).filename(), "dogs.txt");
    EXPECT_EQ(hybrid[0].bm25_rank, 1);
    EXPECT_EQ(hybrid[0].vector_rank, 1);
    // First in both lists: the whole of both weights under relative-score fusion (the default),
    // 1/61 from each list under plain RRF.
    EXPECT_NEAR(hybrid[0].score, Fusion{}.bm25_weight + Fusion{}.vector_weight, 1e-12);
    const auto rrf = kb.retrieve("a dog fetches sticks", 4, RetrievalMode::hybrid, &embedder, parse_fusion("rrf"));
    ASSERT_EQ(fs::path(rrf[0].path).filename(), "dogs.txt");
    EXPECT_NEAR(rrf[0].score, 2.0 / 61, 1e-12);
    EXPECT_THROW(kb.retrieve("dogs", 2, RetrievalMode::vector, nullptr), Error);
}

TEST(KnowledgeBase, ReindexEmbedsOnlyNewAndChangedFilesAndDropsDeletedOnes) {
    Corpus c("incremental");
    test::HashingEmbedder embedder;
    const std::string docs[] = {c.dir};
    {
        auto kb = KnowledgeBase::open(c.kb, KnowledgeBase::Access::write);
        kb.index(docs, embedder, "", test::quiet_index_options());
    }
    EXPECT_EQ(embedder.texts_embedded, 4);  // each small file is one chunk
    // Nothing changed: nothing embedded. A rewrite with the same bytes (new mtime) is not re-embedded either.
    test::write_file(c.dir + "/cats.md", "# Cats\n\nCats purr and chase mice. A cat sleeps most of the day.\n");
    auto kb = KnowledgeBase::open(c.kb, KnowledgeBase::Access::write);
    IndexReport same = kb.index(docs, embedder, "", test::quiet_index_options());
    EXPECT_EQ(embedder.texts_embedded, 4);
    EXPECT_EQ(same.files_unchanged, 4);
    // Change one, delete one, add one.
    test::write_file(c.dir + "/dogs.txt", "Dogs bark at the mail carrier.\nA dog fetches sticks and balls.\n");
    fs::remove(c.dir + "/sub/fish.md");
    test::write_file(c.dir + "/sub/owls.md", "Owls hunt at night.\n");
    embedder.texts_embedded = 0;
    embedder.calls = 0;
    const IndexReport report = kb.index(docs, embedder, "", test::quiet_index_options());
    EXPECT_EQ(embedder.texts_embedded, 2);
    EXPECT_EQ(embedder.calls, 2);
    EXPECT_EQ(report.files_indexed, 2);
    EXPECT_EQ(report.files_unchanged, 2);
    EXPECT_EQ(report.files_removed, 1);
    const auto sources = kb.sources();
    ASSERT_EQ(sources.size(), 4u);
    for (const auto& s : sources) EXPECT_EQ(s.path.find("fish"), std::string::npos);
    EXPECT_TRUE(kb.retrieve("salmon", 3, RetrievalMode::bm25, nullptr).empty());
    EXPECT_EQ(fs::path(kb.retrieve("balls", 3, RetrievalMode::bm25, nullptr).at(0).path).filename(), "dogs.txt");
    EXPECT_EQ(kb.info().chunks, 4);
}

TEST(KnowledgeBase, RmRemovesFilesAndFoldersAndLsListsTheRest) {
    Corpus c("rm");
    test::HashingEmbedder embedder;
    auto kb = KnowledgeBase::open(c.kb, KnowledgeBase::Access::write);
    const std::string docs[] = {c.dir};
    kb.index(docs, embedder, "", test::quiet_index_options());
    const std::string sub[] = {c.dir + "/sub"};
    EXPECT_EQ(kb.remove(sub), 2);
    const auto sources = kb.sources();
    ASSERT_EQ(sources.size(), 2u);
    EXPECT_EQ(fs::path(sources[0].path).filename(), "cats.md");
    EXPECT_EQ(sources[0].chunks, 1);
    EXPECT_EQ(sources[0].hash.size(), 64u);
    const std::string missing[] = {c.dir + "/nope.md"};
    EXPECT_THROW(kb.remove(missing), Error);
}

TEST(KnowledgeBase, LargeKnowledgeBaseUsesTheHnswIndexFile) {
    // Past the exact-search threshold the index run writes KB.hnsw; queries use it.
    const std::string root = slm::test::temp_dir() + "/ann";
    test::HashingEmbedder embedder;
    std::string text;
    auto paragraph = [](int i) {
        return "alpha" + std::to_string(i) + " beta" + std::to_string(i % 97) + " gamma delta eps zeta";
    };
    for (int i = 0; i < 20500; ++i) text += paragraph(i) + "\n\n";  // 6 tokens: one paragraph per 8-token chunk
    test::write_file(root + "/big.txt", text);
    auto kb = KnowledgeBase::open(root + "/kb.sqlite", KnowledgeBase::Access::write);
    IndexOptions o = test::quiet_index_options();
    o.chunking = {8, 0};
    o.batch = 4096;
    const std::string docs[] = {root + "/big.txt"};
    kb.index(docs, embedder, "", o);
    EXPECT_GE(kb.info().chunks, 20000);
    EXPECT_TRUE(kb.info().ann_index);
    EXPECT_TRUE(fs::exists(root + "/kb.sqlite.hnsw"));
    const auto found = kb.retrieve(paragraph(12345), 1, RetrievalMode::vector, &embedder);
    ASSERT_EQ(found.size(), 1u);
    // The query's own paragraph has similarity 1 (graph search may meet a hash-colliding twin first).
    EXPECT_NEAR(found[0].vector_score, 1.0, 1e-3) << found[0].text;
}

}  // namespace
}  // namespace slm::rag
