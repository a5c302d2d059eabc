// StopStringFilter: streaming text with stop strings, never showing any part of one. Text that
// ends with a proper prefix of a stop string is held back until the next piece decides it.
#include <slm/generator.h>

#include <algorithm>

namespace slm {

std::string StopStringFilter::push(std::string_view text) {
    if (stopped_) return "";
    pending_.append(text);
    // A whole stop string: show what precedes the earliest one, drop the rest.
    size_t first = std::string::npos;
    for (const std::string& s : stops_)
        if (!s.empty()) first = std::min(first, pending_.find(s));
    if (first != std::string::npos) {
        stopped_ = true;
        std::string out = pending_.substr(0, first);
        pending_.clear();
        return out;
    }
    // Hold back the longest tail that is a proper prefix of some stop string.
    size_t hold = 0;
    for (const std::string& s : stops_)
        for (size_t k = std::min(s.size() - (s.empty() ? 0 : 1), pending_.size()); k > hold; --k)
            if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
                hold = k;
                break;
            }
    std::string out = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return out;
}

std::string StopStringFilter::flush() {
    std::string out;
    if (!stopped_) out.swap(pending_);
    return out;
}

}  // namespace slm
