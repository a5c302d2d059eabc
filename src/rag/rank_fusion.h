// Fusing ranked lists (BM25's and the vectors') into one: weighted reciprocal rank fusion
// (Cormack et al. 2009) and relative-score fusion (scores min-max normalised within each list,
// then a weighted sum). docs/rag.md, "Retrieval quality", measures both.
#pragma once

#include <cstdint>
#include <vector>

namespace slm::rag {

struct RankedItem {
    int64_t id = 0;
    double score = 0;  // higher is better; only relative-score fusion reads it
};

// One retriever's candidates, best first, and how much the fusion trusts it.
struct RankedList {
    std::vector<RankedItem> items;
    double weight = 1;
};

struct FusedRank {
    int64_t id = 0;
    double score = 0;
};

// score(d) = sum over lists of weight / (k + rank(d)), rank 1-based; k = 60 damps the weight of
// the very first places. Needs no calibration between the lists' scores; the weights let a weak
// list count less than a strong one (equal weights: plain RRF).
// Ties in both functions keep the order of first appearance (earlier list, better rank), so the
// result is deterministic.
std::vector<FusedRank> reciprocal_rank_fusion(const std::vector<RankedList>& lists, double k = 60);

// score(d) = sum over lists of weight * (s - min) / (max - min), with min and max over that list's
// candidates (1 when they are all equal), 0 from a list that lacks d. Unlike RRF it keeps how far
// apart the scores are: a list whose top hit stands out passes that on.
std::vector<FusedRank> relative_score_fusion(const std::vector<RankedList>& lists);

}  // namespace slm::rag
