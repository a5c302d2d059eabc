// Regex over PCRE2: compiled once with UTF and UCP so \s, \p{L}, \w follow Unicode, JIT-compiled
// for speed; each search uses its own match data so one Regex serves many threads.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>
#include <slm/error.h>

namespace slm::tok {

struct Regex::Compiled {
    pcre2_code* code = nullptr;
    ~Compiled() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pattern, const std::string& where) : compiled_(std::make_unique<Compiled>()) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                    PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
    if (!compiled_->code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof(message));
        fail("{}: regex '{}' does not compile at offset {}: {}", where, pattern, error_offset,
             reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
}

Regex::~Regex() = default;

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
    std::vector<std::pair<size_t, size_t>> matches;
    pcre2_match_data* data = pcre2_match_data_create_from_pattern(compiled_->code, nullptr);
    auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t offset = 0;
    while (offset <= text.size()) {
        int rc = pcre2_match(compiled_->code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, data, nullptr);
        if (rc < 0) break;  // no match (or a resource limit: the rest stays one piece)
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
        size_t begin = ov[0], end = ov[1];
        if (end > begin) {
            matches.emplace_back(begin, end);
            offset = end;
        } else {
            // Empty match: step over one whole code point.
            if (begin >= text.size()) break;
            offset = begin + 1;
            while (offset < text.size() && (static_cast<uint8_t>(text[offset]) & 0xC0) == 0x80) ++offset;
        }
    }
    pcre2_match_data_free(data);
    return matches;
}

}  // namespace slm::tok
