// reciprocal_rank_fusion: sums 1/(k+rank) per id across the rankings, then a stable sort.
#include "rag/rank_fusion.h"

#include <algorithm>
#include <unordered_map>

namespace slm::rag {

std::vector<FusedRank> reciprocal_rank_fusion(const std::vector<std::vector<int64_t>>& rankings, double k) {
    std::vector<FusedRank> fused;
    std::unordered_map<int64_t, size_t> slot;
    for (const auto& ranking : rankings)
        for (size_t r = 0; r < ranking.size(); ++r) {
            auto [it, fresh] = slot.try_emplace(ranking[r], fused.size());
            if (fresh) fused.push_back({ranking[r], 0.0});
            fused[it->second].score += 1.0 / (k + double(r + 1));
        }
    std::stable_sort(fused.begin(), fused.end(),
                     [](const FusedRank& a, const FusedRank& b) { return a.score > b.score; });
    return fused;
}

}  // namespace slm::rag
