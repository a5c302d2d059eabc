// Rank fusion (weighted reciprocal rank, relative score) and fusion specs against scores worked out
// by hand.
#include "rag/rank_fusion.h"

#include <gtest/gtest.h>
#include <slm/error.h>
#include <slm/rag.h>

namespace slm::rag {
namespace {

RankedList ranked(std::vector<int64_t> ids, double weight = 1) {
    RankedList list{{}, weight};
    for (int64_t id : ids) list.items.push_back({id, 0.0});
    return list;
}

TEST(ReciprocalRankFusion, MatchesHandWorkedScores) {
    // bm25: a b c; vector: c a d.
    // a: 1/61 + 1/62 = 0.0325224; c: 1/63 + 1/61 = 0.0322664; b: 1/62 = 0.0161290; d: 1/63 = 0.0158730
    const auto fused = reciprocal_rank_fusion({ranked({1, 2, 3}), ranked({3, 1, 4})});
    ASSERT_EQ(fused.size(), 4u);
    EXPECT_EQ(fused[0].id, 1);
    EXPECT_NEAR(fused[0].score, 1.0 / 61 + 1.0 / 62, 1e-12);
    EXPECT_EQ(fused[1].id, 3);
    EXPECT_NEAR(fused[1].score, 1.0 / 63 + 1.0 / 61, 1e-12);
    EXPECT_EQ(fused[2].id, 2);
    EXPECT_NEAR(fused[2].score, 1.0 / 62, 1e-12);
    EXPECT_EQ(fused[3].id, 4);
}

TEST(ReciprocalRankFusion, TiesKeepFirstAppearanceAndKChangesTheWeights) {
    // Equal ranks in two lists: x first in the first list wins the tie.
    const auto tie = reciprocal_rank_fusion({ranked({7, 8}), ranked({8, 7})});
    EXPECT_EQ(tie[0].id, 7);
    EXPECT_DOUBLE_EQ(tie[0].score, tie[1].score);
    // With k = 0, first place (1/1) beats two second places (1/2 + 1/2 would tie): 9 appears first
    // in one list only, 5 is second in both.
    const auto sharp = reciprocal_rank_fusion({ranked({9, 5}), ranked({6, 5})}, 0);
    EXPECT_NEAR(sharp[0].score, 1.0, 1e-12);
    EXPECT_NEAR(sharp[2].score, 1.0, 1e-12);
    EXPECT_TRUE(reciprocal_rank_fusion({}).empty());
}

TEST(ReciprocalRankFusion, WeightsScaleEachListsShare) {
    // bm25 (weight 1): a b; vector (weight 0.2): b c.
    // a: 1/61 = 0.016393; b: 1/62 + 0.2/61 = 0.019408; c: 0.2/62 = 0.003226. Plain RRF would also
    // put b first; with the vectors at 0.01, b's 0.01/61 no longer makes up for being second in BM25.
    const auto fused = reciprocal_rank_fusion({ranked({1, 2}, 1.0), ranked({2, 3}, 0.2)});
    ASSERT_EQ(fused.size(), 3u);
    EXPECT_EQ(fused[0].id, 2);
    EXPECT_NEAR(fused[0].score, 1.0 / 62 + 0.2 / 61, 1e-12);
    EXPECT_EQ(fused[1].id, 1);
    EXPECT_NEAR(fused[1].score, 1.0 / 61, 1e-12);
    EXPECT_NEAR(fused[2].score, 0.2 / 62, 1e-12);
    const auto faint = reciprocal_rank_fusion({ranked({1, 2}, 1.0), ranked({2, 3}, 0.01)});
    EXPECT_EQ(faint[0].id, 1);
    EXPECT_EQ(faint[1].id, 2);
    // A zero weight leaves its list's ids in the result with score 0, after everything else.
    const auto off = reciprocal_rank_fusion({ranked({1}, 1.0), ranked({5}, 0.0)});
    EXPECT_EQ(off[1].id, 5);
    EXPECT_EQ(off[1].score, 0.0);
}

TEST(RelativeScoreFusion, NormalisesEachListToItsRange) {
    // bm25 scores 12, 8, 2 -> 1, 0.6, 0; cosines 0.9, 0.85, 0.7 -> 1, 0.75, 0.
    // Weights 0.7 / 0.3: a (bm25 1st, absent in vectors) 0.7; b (bm25 0.6, vector 1) 0.42 + 0.3 = 0.72;
    // c (bm25 0, vector 0.75) 0.225; d (vector 0) 0.
    RankedList bm25{{{1, 12}, {2, 8}, {3, 2}}, 0.7};
    RankedList vec{{{2, 0.9}, {3, 0.85}, {4, 0.7}}, 0.3};
    const auto fused = relative_score_fusion({bm25, vec});
    ASSERT_EQ(fused.size(), 4u);
    EXPECT_EQ(fused[0].id, 2);
    EXPECT_NEAR(fused[0].score, 0.72, 1e-12);
    EXPECT_EQ(fused[1].id, 1);
    EXPECT_NEAR(fused[1].score, 0.7, 1e-12);
    EXPECT_EQ(fused[2].id, 3);
    EXPECT_NEAR(fused[2].score, 0.225, 1e-12);
    EXPECT_EQ(fused[3].id, 4);
    EXPECT_NEAR(fused[3].score, 0.0, 1e-12);
    // Weights 0.9 / 0.1: a 0.9 beats b 0.54 + 0.1.
    bm25.weight = 0.9;
    vec.weight = 0.1;
    const auto lexical = relative_score_fusion({bm25, vec});
    EXPECT_EQ(lexical[0].id, 1);
    EXPECT_NEAR(lexical[0].score, 0.9, 1e-12);
    EXPECT_NEAR(lexical[1].score, 0.64, 1e-12);
}

TEST(RelativeScoreFusion, EqualScoresCountAsOneAndTiesKeepFirstAppearance) {
    // A one-item list (or all scores equal) normalises to 1, not 0/0.
    const auto single = relative_score_fusion({{{{5, 3.0}}, 0.5}, {{{6, 0.2}, {7, 0.2}}, 0.5}});
    ASSERT_EQ(single.size(), 3u);
    for (const auto& r : single) EXPECT_NEAR(r.score, 0.5, 1e-12);
    EXPECT_EQ(single[0].id, 5);
    EXPECT_EQ(single[1].id, 6);
    EXPECT_EQ(single[2].id, 7);
    EXPECT_TRUE(relative_score_fusion({{{}, 1.0}, {{}, 1.0}}).empty());
}

TEST(FusionSpec, ParsesMethodsAndWeightsAndRefusesNonsense) {
    const Fusion standard;
    EXPECT_EQ(standard.method, FusionMethod::relative);
    EXPECT_EQ(fusion_name(standard), "relative:0.95,0.05");
    const Fusion plain = parse_fusion("rrf");
    EXPECT_EQ(plain.method, FusionMethod::rrf);
    EXPECT_EQ(plain.bm25_weight, 1.0);
    EXPECT_EQ(plain.vector_weight, 1.0);
    const Fusion weighted = parse_fusion("rrf:1,0.25");
    EXPECT_EQ(weighted.vector_weight, 0.25);
    EXPECT_EQ(fusion_name(weighted), "rrf:1,0.25");
    const Fusion relative = parse_fusion("relative:0.5,0.5");
    EXPECT_EQ(relative.method, FusionMethod::relative);
    EXPECT_EQ(relative.bm25_weight, 0.5);
    EXPECT_EQ(fusion_name(parse_fusion("relative")), fusion_name(standard));
    for (const char* bad : {"", "borda", "rrf:", "rrf:1", "rrf:1,x", "rrf:1,2,3", "relative:-1,2", "relative:0,0",
                            "relative:nan,1", "rrf:1,0.5junk"})
        EXPECT_THROW(parse_fusion(bad), Error) << bad;
}

}  // namespace
}  // namespace slm::rag
