// The O(n log n) pair-merge loop shared by the BPE models: a linked list of symbols and a
// min-heap of candidate adjacent pairs, stale entries skipped when popped.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

namespace slm::tok {

struct MergeSymbol {
    int32_t id;          // token id, or -1 when the symbol's text is not a token
    uint32_t begin, end; // bytes of the word it covers
    int32_t prev, next;  // neighbours in the list (-1 at the ends); end == begin when merged away
};

struct MergeCandidate {
    double priority;  // lower merges first
    int32_t left;     // symbol index
    int32_t merged_id;
    uint32_t left_end, right_end;  // to detect that either symbol changed since the push
    bool operator>(const MergeCandidate& o) const {
        return priority != o.priority ? priority > o.priority : left > o.left;
    }
};

// `lookup(a, b)` says whether symbols a and b merge: {priority, merged id} or nullopt.
template <typename Lookup>
void merge_symbols(std::vector<MergeSymbol>& symbols, const Lookup& lookup) {
    std::priority_queue<MergeCandidate, std::vector<MergeCandidate>, std::greater<>> heap;
    auto consider = [&](int32_t left) {
        if (left < 0) return;
        int32_t right = symbols[static_cast<size_t>(left)].next;
        if (right < 0) return;
        const MergeSymbol& a = symbols[static_cast<size_t>(left)];
        const MergeSymbol& b = symbols[static_cast<size_t>(right)];
        if (auto m = lookup(a, b)) heap.push({m->first, left, m->second, a.end, b.end});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);
    while (!heap.empty()) {
        MergeCandidate c = heap.top();
        heap.pop();
        MergeSymbol& a = symbols[static_cast<size_t>(c.left)];
        if (a.end == a.begin || a.end != c.left_end || a.next < 0) continue;
        MergeSymbol& b = symbols[static_cast<size_t>(a.next)];
        if (b.end != c.right_end) continue;
        a.end = b.end;
        a.id = c.merged_id;
        a.next = b.next;
        if (b.next >= 0) symbols[static_cast<size_t>(b.next)].prev = c.left;
        b.end = b.begin;  // merged away
        consider(a.prev);
        consider(c.left);
    }
}

}  // namespace slm::tok
