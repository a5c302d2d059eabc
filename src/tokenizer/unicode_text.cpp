// UTF-8 decoding/repair, GPT-2's byte-level alphabet, and normalization/category queries over
// utf8proc's Unicode tables.
#include "tokenizer/unicode_text.h"

#include <utf8proc.h>

#include <array>
#include <cstdlib>
#include <memory>
#include <unordered_map>

namespace slm::tok {

size_t utf8_sequence_length(uint8_t b) {
    if (b < 0x80) return 1;
    if ((b & 0xE0) == 0xC0) return 2;
    if ((b & 0xF0) == 0xE0) return 3;
    if ((b & 0xF8) == 0xF0) return 4;
    return 1;
}

char32_t next_code_point(std::string_view s, size_t& pos) {
    // Invalid input: one U+FFFD per maximal valid prefix of a sequence (Python's
    // errors="replace", Rust's from_utf8_lossy), so repaired text matches the reference.
    auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
    uint8_t b0 = byte(pos);
    if (b0 < 0x80) {
        ++pos;
        return b0;
    }
    size_t need;
    char32_t cp;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2, cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3, cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        ++pos;
        return 0xFFFD;
    }
    size_t i = pos + 1;
    for (size_t k = 0; k < need; ++k, ++i) {
        uint8_t min = k == 0 ? lo : 0x80, max = k == 0 ? hi : 0xBF;
        if (i >= s.size() || byte(i) < min || byte(i) > max) {
            pos = i;
            return 0xFFFD;
        }
        cp = (cp << 6) | (byte(i) & 0x3F);
    }
    pos = i;
    return cp;
}

void append_utf8(std::string& out, char32_t cp) {
    uint8_t buf[4];
    utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

bool is_valid_utf8(std::string_view s) {
    size_t pos = 0;
    while (pos < s.size()) {
        if (static_cast<uint8_t>(s[pos]) < 0x80) {
            ++pos;
            continue;
        }
        if (next_code_point(s, pos) == 0xFFFD) {
            // U+FFFD itself is valid (EF BF BD); anything else that decodes to it is not.
            if (pos < 3 || s.substr(pos - 3, 3) != "\xEF\xBF\xBD") return false;
        }
    }
    return true;
}

std::string repair_utf8(std::string_view s) {
    if (is_valid_utf8(s)) return std::string(s);
    std::string out;
    out.reserve(s.size() + 8);
    size_t pos = 0;
    while (pos < s.size()) append_utf8(out, next_code_point(s, pos));
    return out;
}

size_t complete_utf8_prefix(std::string_view s) {
    // Look back at most 3 bytes for a lead byte whose sequence is cut short.
    size_t n = s.size();
    for (size_t back = 1; back <= 4 && back <= n; ++back) {
        auto b = static_cast<uint8_t>(s[n - back]);
        if ((b & 0xC0) == 0x80) continue;  // continuation byte
        size_t need = utf8_sequence_length(b);
        return need > back ? n - back : n;
    }
    return n;
}

namespace {

struct ByteLevelTables {
    std::array<std::string, 256> to_unicode;
    std::unordered_map<char32_t, uint8_t> from_unicode;
    ByteLevelTables() {
        // GPT-2: printable Latin-1 bytes map to themselves, the other 68 to U+0100 onwards.
        int shift = 0;
        for (int b = 0; b < 256; ++b) {
            bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + shift++);
            append_utf8(to_unicode[static_cast<size_t>(b)], cp);
            from_unicode[cp] = static_cast<uint8_t>(b);
        }
    }
};

const ByteLevelTables& byte_tables() {
    static const ByteLevelTables tables;
    return tables;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t b) { return byte_tables().to_unicode[b]; }

std::string byte_level_encode(std::string_view s) {
    const auto& t = byte_tables();
    std::string out;
    out.reserve(s.size() * 2);
    for (char c : s) out += t.to_unicode[static_cast<uint8_t>(c)];
    return out;
}

std::string bytes_from_byte_level(std::string_view s) {
    const auto& t = byte_tables();
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    while (pos < s.size()) {
        size_t start = pos;
        char32_t cp = next_code_point(s, pos);
        auto it = t.from_unicode.find(cp);
        if (it != t.from_unicode.end()) {
            out += static_cast<char>(it->second);
        } else {
            out.append(s.substr(start, pos - start));
        }
    }
    return out;
}

std::string normalize_unicode(std::string_view s, NormalForm form) {
    if (s.empty()) return {};
    int options = UTF8PROC_STABLE;
    switch (form) {
        case NormalForm::nfc: options |= UTF8PROC_COMPOSE; break;
        case NormalForm::nfd: options |= UTF8PROC_DECOMPOSE; break;
        case NormalForm::nfkc: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
        case NormalForm::nfkd: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    std::string valid = repair_utf8(s);
    utf8proc_uint8_t* result = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                                      static_cast<utf8proc_ssize_t>(valid.size()), &result,
                                      static_cast<utf8proc_option_t>(options));
    if (n < 0) return valid;
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(result, &std::free);
    return std::string(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
}

char32_t lower_code_point(char32_t cp) {
    return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

std::string to_lower(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    while (pos < s.size()) {
        char32_t cp = next_code_point(s, pos);
        // Rust's str::to_lowercase maps U+0130 to "i̇" (two code points); utf8proc gives one.
        if (cp == 0x130) {
            out += "i\xCC\x87";
            continue;
        }
        append_utf8(out, lower_code_point(cp));
    }
    return out;
}

static utf8proc_category_t category(char32_t cp) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

bool is_whitespace(char32_t cp) {
    switch (cp) {
        case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
        case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

bool is_punctuation(char32_t cp) {
    auto c = category(cp);
    return c == UTF8PROC_CATEGORY_PC || c == UTF8PROC_CATEGORY_PD || c == UTF8PROC_CATEGORY_PS ||
           c == UTF8PROC_CATEGORY_PE || c == UTF8PROC_CATEGORY_PI || c == UTF8PROC_CATEGORY_PF ||
           c == UTF8PROC_CATEGORY_PO;
}

bool is_control(char32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    auto c = category(cp);
    return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CN ||
           c == UTF8PROC_CATEGORY_CO;
}

bool is_nonspacing_mark(char32_t cp) { return category(cp) == UTF8PROC_CATEGORY_MN; }

bool is_mark(char32_t cp) {
    auto c = category(cp);
    return c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME;
}

bool is_chinese_char(char32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_alphanumeric(char32_t cp) {
    if (cp == '_') return true;
    auto c = category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
           (c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME) ||
           (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO) || c == UTF8PROC_CATEGORY_PC;
}

bool is_numeric(char32_t cp) {
    auto c = category(cp);
    return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}

}  // namespace slm::tok
