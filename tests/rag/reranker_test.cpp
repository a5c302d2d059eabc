// The Reranker on a real model (../shared/models/tinyqwen2-bpe-11m, its q8_0 GGUF): a passage that
// answers the question outscores unrelated ones, packing sequences into shared forwards gives the
// scores of one sequence per forward, and rerank_passages' order, ties and rerank_score.
#include <gtest/gtest.h>
#include <slm/error.h>
#include <slm/model.h>
#include <slm/reranker.h>
#include <slm/thread_pool.h>
#include <slm/tokenizer.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "testing/testing.h"

namespace slm::rag {
namespace {

const std::vector<std::string> kPassages = {
    "The bakery on Mill Street opens at six and sells rye bread and croissants.",
    "The Eiffel Tower in Paris was completed in 1889 for the World's Fair. Gustave Eiffel's company built it.",
    "The :mod:`os` module provides a portable way of using operating system dependent functionality.",
    "Tomatoes need full sun; water them every morning and pick them when they are red.",
};
constexpr std::string_view kQuestion = "When was the Eiffel Tower in Paris completed?";

struct TinyModel {
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    std::unique_ptr<ThreadPool> pool = std::make_unique<ThreadPool>(2);
};

TinyModel load(const std::string& shared) {
    const std::string gguf = shared + "/models/tinyqwen2-bpe-11m/tinyqwen2-bpe-11m-q8_0.gguf";
    TinyModel m;
    m.model = Model::load(gguf);
    m.tokenizer = Tokenizer::from_model_path(gguf);
    return m;
}

TEST(Reranker, ThePassageThatAnswersTheQuestionScoresBest) {
    SLM_REQUIRE_SHARED(shared);
    TinyModel m = load(shared);
    Reranker reranker(*m.model, *m.tokenizer, *m.pool);
    const std::vector<double> scores = reranker.score(kQuestion, kPassages);
    ASSERT_EQ(scores.size(), kPassages.size());
    for (size_t i = 0; i < scores.size(); ++i) {
        EXPECT_TRUE(std::isfinite(scores[i]));
        EXPECT_LT(scores[i], 0.0);  // a mean log-probability
        if (i != 1) {
            EXPECT_GT(scores[1], scores[i] + 0.1) << "passage " << i;
        }
    }

    // rerank keeps the k best, best first, with their scores.
    std::vector<Passage> candidates(kPassages.size());
    for (size_t i = 0; i < kPassages.size(); ++i)
        candidates[i].chunk_id = int64_t(i), candidates[i].text = kPassages[i];
    const std::vector<Passage> best = reranker.rerank(kQuestion, candidates, 2);
    ASSERT_EQ(best.size(), 2u);
    EXPECT_EQ(best[0].chunk_id, 1);
    ASSERT_TRUE(best[0].rerank_score.has_value());
    EXPECT_DOUBLE_EQ(*best[0].rerank_score, scores[1]);
    EXPECT_GE(*best[0].rerank_score, *best[1].rerank_score);
}

TEST(Reranker, PackedForwardsScoreAsOneSequenceAtATime) {
    SLM_REQUIRE_SHARED(shared);
    TinyModel m = load(shared);
    RerankOptions packed;  // every passage in one forward
    packed.batch_tokens = 4096;
    RerankOptions split;  // one sequence per cache, each cut over several forwards of 64 tokens
    split.batch_tokens = 64;
    const auto a = Reranker(*m.model, *m.tokenizer, *m.pool, packed).score(kQuestion, kPassages);
    const auto b = Reranker(*m.model, *m.tokenizer, *m.pool, split).score(kQuestion, kPassages);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 2e-3) << "passage " << i;

    // A passage longer than max_passage_tokens is scored on its start: the same score as the start alone.
    RerankOptions cut;
    cut.max_passage_tokens = 12;
    const std::string start =
        m.tokenizer->decode(std::span<const int32_t>(m.tokenizer->encode(kPassages[1], false).data(), 12));
    const std::string both[] = {kPassages[1], start};
    const auto c = Reranker(*m.model, *m.tokenizer, *m.pool, cut).score(kQuestion, both);
    EXPECT_NEAR(c[0], c[1], 1e-6);
}

TEST(Reranker, EmptyQuestionIsRefused) {
    SLM_REQUIRE_SHARED(shared);
    TinyModel m = load(shared);
    Reranker reranker(*m.model, *m.tokenizer, *m.pool);
    EXPECT_THROW(reranker.score("  ", kPassages), Error);
}

TEST(RerankPassages, KeepsTheBestKInScoreOrderTiesInRetrievalOrder) {
    std::vector<Passage> candidates(5);
    for (size_t i = 0; i < candidates.size(); ++i) candidates[i].chunk_id = int64_t(10 + i);
    const double scores[] = {-2.0, -1.0, -3.0, -1.0, -0.5};
    const auto best = rerank_passages(candidates, scores, 3);
    ASSERT_EQ(best.size(), 3u);
    EXPECT_EQ(best[0].chunk_id, 14);
    EXPECT_EQ(best[1].chunk_id, 11);  // -1.0 twice: 11 was retrieved before 13
    EXPECT_EQ(best[2].chunk_id, 13);
    EXPECT_DOUBLE_EQ(*best[2].rerank_score, -1.0);
    EXPECT_EQ(rerank_passages(candidates, scores, 9).size(), 5u);
    const double too_few[] = {1.0};
    EXPECT_THROW(rerank_passages(candidates, too_few, 3), Error);
}

TEST(RerankCandidates, FourTimesKAtLeastTwentyUnlessGiven) {
    EXPECT_EQ(rerank_candidates(3), 20);
    EXPECT_EQ(rerank_candidates(10), 40);
    EXPECT_EQ(rerank_candidates(5, 8), 8);
    EXPECT_EQ(rerank_candidates(5, 2), 5);  // never fewer than k
}

}  // namespace
}  // namespace slm::rag
