// Reciprocal rank fusion against scores worked out by hand (k = 60).
#include "rag/rank_fusion.h"

#include <gtest/gtest.h>

namespace slm::rag {
namespace {

TEST(ReciprocalRankFusion, MatchesHandWorkedScores) {
    // bm25: a b c; vector: c a d.
    // a: 1/61 + 1/62 = 0.0325224; c: 1/63 + 1/61 = 0.0322664; b: 1/62 = 0.0161290; d: 1/63 = 0.0158730
    const auto fused = reciprocal_rank_fusion({{1, 2, 3}, {3, 1, 4}});
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
    const auto tie = reciprocal_rank_fusion({{7, 8}, {8, 7}});
    EXPECT_EQ(tie[0].id, 7);
    EXPECT_DOUBLE_EQ(tie[0].score, tie[1].score);
    // With k = 0, first place (1/1) beats two second places (1/2 + 1/2 would tie): 9 appears first
    // in one list only, 5 is second in both.
    const auto sharp = reciprocal_rank_fusion({{9, 5}, {6, 5}}, 0);
    EXPECT_NEAR(sharp[0].score, 1.0, 1e-12);
    EXPECT_NEAR(sharp[2].score, 1.0, 1e-12);
    EXPECT_TRUE(reciprocal_rank_fusion({}).empty());
}

}  // namespace
}  // namespace slm::rag
