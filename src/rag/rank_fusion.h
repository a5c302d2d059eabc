// Reciprocal rank fusion (Cormack et al. 2009): score(d) = sum over rankings of 1 / (k + rank(d)),
// rank 1-based; k = 60 damps the weight of the very first places. Needs no score calibration
// between BM25 and cosine similarity, which is why hybrid retrieval uses it.
#pragma once

#include <cstdint>
#include <vector>

namespace slm::rag {

struct FusedRank {
    int64_t id = 0;
    double score = 0;
};

// Each ranking lists ids best first. Ties keep the order of first appearance (earlier ranking,
// better rank), so the result is deterministic.
std::vector<FusedRank> reciprocal_rank_fusion(const std::vector<std::vector<int64_t>>& rankings, double k = 60);

}  // namespace slm::rag
