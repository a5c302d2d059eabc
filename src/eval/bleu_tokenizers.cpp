// sacrebleu's BLEU tokenizers: 13a (mteval-v13a), intl (mteval-v14 international, Unicode classes),
// zh (CJK characters split, then 13a's rules), char and none.
#include <slm/error.h>
#include <slm/eval/bleu.h>

#include <array>
#include <utility>

#include "eval/python_text.h"

namespace slm::eval {
namespace {

bool is_digit(char32_t c) { return c >= U'0' && c <= U'9'; }

// 13a's first rule: these ASCII characters always become separate tokens.
bool is_13a_symbol(char32_t c) {
    return (c >= U'{' && c <= U'~') || (c >= U'[' && c <= U'`') || (c >= U' ' && c <= U'&') ||
           (c >= U'(' && c <= U'+') || (c >= U':' && c <= U'@') || c == U'/';
}

// re.sub over a two-character pattern (first)(second): scans left to right, a match consumes both
// characters and the scan resumes after them, exactly as Python's non-overlapping substitution.
template <typename First, typename Second>
std::u32string substitute_pairs(const std::u32string& in, First first, Second second, bool space_before,
                                bool space_between, bool space_after) {
    std::u32string out;
    out.reserve(in.size() + in.size() / 2);
    size_t i = 0;
    while (i < in.size()) {
        if (i + 1 < in.size() && first(in[i]) && second(in[i + 1])) {
            if (space_before) out.push_back(U' ');
            out.push_back(in[i]);
            if (space_between) out.push_back(U' ');
            out.push_back(in[i + 1]);
            if (space_after) out.push_back(U' ');
            i += 2;
        } else {
            out.push_back(in[i++]);
        }
    }
    return out;
}

template <typename Pred>
std::u32string pad_each(const std::u32string& in, Pred pred) {
    std::u32string out;
    out.reserve(in.size() * 2);
    for (char32_t c : in) {
        if (pred(c)) {
            out.push_back(U' ');
            out.push_back(c);
            out.push_back(U' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string join_tokens(const std::u32string& text) {
    std::string out;
    for (auto& token : py::split(text)) {
        if (!out.empty()) out.push_back(' ');
        out += py::encode(token);
    }
    return out;
}

// sacrebleu's TokenizerRegexp, shared by 13a and zh.
std::string regexp_rules(const std::u32string& line) {
    auto is_dot_comma = [](char32_t c) { return c == U'.' || c == U','; };
    auto not_digit = [](char32_t c) { return !is_digit(c); };
    std::u32string s = pad_each(line, is_13a_symbol);
    s = substitute_pairs(s, not_digit, is_dot_comma, false, true, true);   // ([^0-9])([\.,]) -> \1 \2 .
    s = substitute_pairs(s, is_dot_comma, not_digit, true, true, false);   // ([\.,])([^0-9]) ->  \1 \2
    s = substitute_pairs(s, is_digit, [](char32_t c) { return c == U'-'; }, false, true, true);
    return join_tokens(s);
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    size_t pos = 0;
    while ((pos = s.find(from, pos)) != std::string::npos) {
        s.replace(pos, from.size(), to);
        pos += to.size();
    }
}

std::string tokenize_13a(std::string_view segment) {
    std::string line(segment);
    replace_all(line, "<skipped>", "");
    replace_all(line, "-\n", "");
    replace_all(line, "\n", " ");
    if (line.find('&') != std::string::npos) {
        replace_all(line, "&quot;", "\"");
        replace_all(line, "&amp;", "&");
        replace_all(line, "&lt;", "<");
        replace_all(line, "&gt;", ">");
    }
    return regexp_rules(py::decode(" " + line + " "));
}

std::string tokenize_intl(std::string_view segment) {
    auto not_number = [](char32_t c) { return !py::is_number(c); };
    std::u32string s = py::decode(segment);
    s = substitute_pairs(s, not_number, py::is_punctuation, false, true, true);  // (\P{N})(\p{P})
    s = substitute_pairs(s, py::is_punctuation, not_number, true, true, false);  // (\p{P})(\P{N})
    s = pad_each(s, py::is_symbol);                                              // (\p{S})
    return join_tokens(s);
}

// The ranges of sacrebleu's zh tokenizer, as Python compares them. Two of its bounds are written
// '\u20000'..'\u2a6d6' and '\u2f800'..'\u2fa1d', which Python reads as two-character strings; a
// single character then falls inside when U+2000 < c <= U+2A6D or U+2F80 < c <= U+2FA1, so those
// are the ranges reproduced here.
constexpr std::array<std::pair<char32_t, char32_t>, 22> kZhRanges = {{
    {0x3400, 0x4DB5}, {0x4E00, 0x9FA5}, {0x9FA6, 0x9FBB}, {0xF900, 0xFA2D}, {0xFA30, 0xFA6A},
    {0xFA70, 0xFAD9}, {0x2001, 0x2A6D}, {0x2F81, 0x2FA1}, {0xFF00, 0xFFEF}, {0x2E80, 0x2EFF},
    {0x3000, 0x303F}, {0x31C0, 0x31EF}, {0x2F00, 0x2FDF}, {0x2FF0, 0x2FFF}, {0x3100, 0x312F},
    {0x31A0, 0x31BF}, {0xFE10, 0xFE1F}, {0xFE30, 0xFE4F}, {0x2600, 0x26FF}, {0x2700, 0x27BF},
    {0x3200, 0x32FF}, {0x3300, 0x33FF},
}};

bool is_zh_char(char32_t c) {
    for (auto [lo, hi] : kZhRanges)
        if (c >= lo && c <= hi) return true;
    return false;
}

std::string tokenize_zh(std::string_view segment) {
    return regexp_rules(pad_each(py::strip(py::decode(segment)), is_zh_char));
}

std::string tokenize_char(std::string_view segment) {
    std::u32string text = py::decode(segment);
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (i) out.push_back(' ');
        py::append_utf8(out, text[i]);
    }
    return out;
}

constexpr std::array<std::pair<std::string_view, BleuTokenizer>, 5> kTokenizers = {{
    {"13a", BleuTokenizer::k13a}, {"intl", BleuTokenizer::kIntl}, {"zh", BleuTokenizer::kZh},
    {"char", BleuTokenizer::kChar}, {"none", BleuTokenizer::kNone},
}};

constexpr std::array<std::pair<std::string_view, BleuSmoothing>, 4> kSmoothings = {{
    {"exp", BleuSmoothing::kExp}, {"floor", BleuSmoothing::kFloor}, {"add-k", BleuSmoothing::kAddK},
    {"none", BleuSmoothing::kNone},
}};

template <typename Table>
std::string choices(const Table& table) {
    std::string out;
    for (auto& [name, value] : table) out += (out.empty() ? "" : ", ") + std::string(name);
    return out;
}

}  // namespace

BleuTokenizer parse_bleu_tokenizer(std::string_view name) {
    for (auto [n, value] : kTokenizers)
        if (n == name) return value;
    fail("unknown BLEU tokenizer '{}' (expected one of: {})", name, choices(kTokenizers));
}

BleuSmoothing parse_bleu_smoothing(std::string_view name) {
    for (auto [n, value] : kSmoothings)
        if (n == name) return value;
    fail("unknown BLEU smoothing method '{}' (expected one of: {})", name, choices(kSmoothings));
}

std::string_view name_of(BleuTokenizer tokenizer) {
    for (auto [n, value] : kTokenizers)
        if (value == tokenizer) return n;
    return "?";
}

std::string_view name_of(BleuSmoothing smoothing) {
    for (auto [n, value] : kSmoothings)
        if (value == smoothing) return n;
    return "?";
}

std::string tokenize_for_bleu(std::string_view segment, BleuTokenizer tokenizer) {
    switch (tokenizer) {
        case BleuTokenizer::k13a: return tokenize_13a(segment);
        case BleuTokenizer::kIntl: return tokenize_intl(segment);
        case BleuTokenizer::kZh: return tokenize_zh(segment);
        case BleuTokenizer::kChar: return tokenize_char(segment);
        case BleuTokenizer::kNone: return std::string(segment);
    }
    return std::string(segment);
}

}  // namespace slm::eval
