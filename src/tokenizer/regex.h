// Regex: a compiled PCRE2 pattern (UTF + Unicode properties, JIT when available) that lists
// the byte spans of every match, as the Split pre-tokenizer needs. Safe to share between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slm::tok {

class Regex {
public:
    // Throws slm::Error naming `where` and the pattern when it does not compile.
    Regex(const std::string& pattern, const std::string& where);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Non-overlapping matches, left to right, as [begin, end) byte offsets. `text` must be valid
    // UTF-8. Empty matches are skipped (they split nothing).
    std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

private:
    struct Compiled;
    std::unique_ptr<Compiled> compiled_;
};

}  // namespace slm::tok
