// Python string semantics on top of utf8proc: the case mapping, whitespace and Unicode general
// categories that sacrebleu, rouge-score and the SQuAD script see through Python's str and re.
#include "eval/python_text.h"

#include <utf8proc.h>

namespace slm::eval::py {

std::u32string decode(std::string_view utf8) {
    std::u32string out;
    out.reserve(utf8.size());
    auto bytes = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
    utf8proc_ssize_t pos = 0, n = static_cast<utf8proc_ssize_t>(utf8.size());
    while (pos < n) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t len = utf8proc_iterate(bytes + pos, n - pos, &cp);
        if (len <= 0) {
            out.push_back(U'\uFFFD');
            ++pos;
        } else {
            out.push_back(static_cast<char32_t>(cp));
            pos += len;
        }
    }
    return out;
}

void append_utf8(std::string& out, char32_t c) {
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t len = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(len));
}

std::string encode(std::u32string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t c : text) append_utf8(out, c);
    return out;
}

bool is_space(char32_t c) {
    // The characters CPython's str.isspace() accepts: bidi class WS, B or S, or category Zs.
    if (c <= 0x7F) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static utf8proc_category_t category(char32_t c) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool is_number(char32_t c) {
    auto cat = category(c);
    return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

bool is_punctuation(char32_t c) {
    auto cat = category(c);
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool is_symbol(char32_t c) {
    auto cat = category(c);
    return cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO;
}

bool is_word_char(char32_t c) {
    if (c == U'_') return true;
    auto cat = category(c);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) || is_number(c);
}

// Unicode's Cased and Case_Ignorable properties, which decide the final-sigma context.
static bool is_cased(char32_t c) {
    auto cat = category(c);
    auto cp = static_cast<utf8proc_int32_t>(c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
           utf8proc_islower(cp) || utf8proc_isupper(cp);
}

static bool is_case_ignorable(char32_t c) {
    switch (c) {  // Word_Break MidLetter, MidNumLet and Single_Quote
        case U'\'': case U'.': case U':': case 0xB7: case 0x387: case 0x5F4: case 0x2018: case 0x2019:
        case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E:
        case 0xFF1A:
            return true;
        default:
            break;
    }
    auto cat = category(c);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_CF ||
           cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SK;
}

static bool in_final_sigma_context(std::u32string_view text, size_t i) {
    size_t j = i;
    while (j > 0 && is_case_ignorable(text[j - 1])) --j;
    if (j == 0 || !is_cased(text[j - 1])) return false;
    size_t k = i + 1;
    while (k < text.size() && is_case_ignorable(text[k])) ++k;
    return k == text.size() || !is_cased(text[k]);
}

std::u32string lower(std::u32string_view text) {
    std::u32string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        char32_t c = text[i];
        if (c < 0x80) {
            out.push_back(c >= U'A' && c <= U'Z' ? c + 32 : c);
        } else if (c == 0x130) {  // the one unconditional multi-character lowercase mapping
            out.push_back(U'i');
            out.push_back(0x307);
        } else if (c == 0x3A3) {
            out.push_back(in_final_sigma_context(text, i) ? 0x3C2 : 0x3C3);
        } else {
            out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
        }
    }
    return out;
}

std::string lower(std::string_view utf8) { return encode(lower(decode(utf8))); }

std::u32string rstrip(std::u32string_view text) {
    size_t end = text.size();
    while (end > 0 && is_space(text[end - 1])) --end;
    return std::u32string(text.substr(0, end));
}

std::u32string strip(std::u32string_view text) {
    size_t begin = 0;
    while (begin < text.size() && is_space(text[begin])) ++begin;
    return rstrip(text.substr(begin));
}

std::vector<std::u32string> split(std::u32string_view text) {
    std::vector<std::u32string> out;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_space(text[i])) ++i;
        size_t start = i;
        while (i < text.size() && !is_space(text[i])) ++i;
        if (i > start) out.emplace_back(text.substr(start, i - start));
    }
    return out;
}

std::vector<std::string> split(std::string_view utf8) {
    std::vector<std::string> out;
    for (auto& piece : split(decode(utf8))) out.push_back(encode(piece));
    return out;
}

}  // namespace slm::eval::py
