// reciprocal_rank_fusion and relative_score_fusion: one weighted contribution per (list, item),
// summed per id in order of first appearance, then a stable sort.
#include "rag/rank_fusion.h"

#include <algorithm>
#include <unordered_map>

namespace slm::rag {
namespace {

template <class Contribution>
std::vector<FusedRank> fuse(const std::vector<RankedList>& lists, Contribution contribution) {
    std::vector<FusedRank> fused;
    std::unordered_map<int64_t, size_t> slot;
    for (const RankedList& list : lists)
        for (size_t r = 0; r < list.items.size(); ++r) {
            auto [it, fresh] = slot.try_emplace(list.items[r].id, fused.size());
            if (fresh) fused.push_back({list.items[r].id, 0.0});
            fused[it->second].score += contribution(list, r);
        }
    std::stable_sort(fused.begin(), fused.end(),
                     [](const FusedRank& a, const FusedRank& b) { return a.score > b.score; });
    return fused;
}

}  // namespace

std::vector<FusedRank> reciprocal_rank_fusion(const std::vector<RankedList>& lists, double k) {
    return fuse(lists, [k](const RankedList& list, size_t r) { return list.weight / (k + double(r + 1)); });
}

std::vector<FusedRank> relative_score_fusion(const std::vector<RankedList>& lists) {
    std::vector<std::pair<double, double>> range;  // min, max per list
    for (const RankedList& list : lists) {
        auto [lo, hi] = std::minmax_element(list.items.begin(), list.items.end(),
                                            [](const RankedItem& a, const RankedItem& b) { return a.score < b.score; });
        range.emplace_back(list.items.empty() ? 0.0 : lo->score, list.items.empty() ? 0.0 : hi->score);
    }
    return fuse(lists, [&](const RankedList& list, size_t r) {
        const auto [lo, hi] = range[size_t(&list - lists.data())];
        return list.weight * (hi > lo ? (list.items[r].score - lo) / (hi - lo) : 1.0);
    });
}

}  // namespace slm::rag
