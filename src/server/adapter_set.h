// AdapterSet: which of the server's loaded LoRA adapters a request runs with, and at what scales.
// Kept canonical (non-zero scales only, sorted by adapter id) so that two requests asking for the
// same thing compare equal: the Scheduler puts equal sets in one forward, and reuses a kept KV
// cache only under an equal set (the cache holds the adapted model's keys and values).
#pragma once

#include <span>
#include <utility>
#include <vector>

namespace slm::server {

class AdapterSet {
public:
    AdapterSet() = default;  // the base model
    // scales[i] is adapter i's scale; zeros (and -0) leave that adapter out.
    static AdapterSet from_scales(std::span<const float> scales) {
        AdapterSet set;
        for (size_t i = 0; i < scales.size(); ++i)
            if (scales[i] != 0.0f) set.entries_.emplace_back(int(i), scales[i]);
        return set;
    }

    bool empty() const { return entries_.empty(); }
    // (adapter id, scale), ids ascending.
    const std::vector<std::pair<int, float>>& entries() const { return entries_; }
    friend bool operator==(const AdapterSet&, const AdapterSet&) = default;

private:
    std::vector<std::pair<int, float>> entries_;
};

}  // namespace slm::server
