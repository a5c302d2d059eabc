// Normalizer stages over UTF-8 strings; Unicode tables come from utf8proc.
#include "tokenizer/normalizers.h"

namespace slm::tok {

std::string SequenceNormalizer::normalize(std::string_view text) const {
    std::string s(text);
    for (const auto& stage : stages) s = stage->normalize(s);
    return s;
}

static std::string drop_code_points(std::string_view text, bool (*drop)(char32_t)) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        size_t start = pos;
        char32_t cp = next_code_point(text, pos);
        if (!drop(cp)) out.append(text.substr(start, pos - start));
    }
    return out;
}

std::string StripAccentsNormalizer::normalize(std::string_view text) const { return drop_code_points(text, is_mark); }

std::string PrependNormalizer::normalize(std::string_view text) const {
    if (text.empty()) return {};
    return prefix + std::string(text);
}

std::string StripNormalizer::normalize(std::string_view text) const {
    // Decode to code points to find the first/last non-whitespace character.
    size_t begin = 0, end = text.size();
    if (left) {
        size_t pos = 0;
        while (pos < text.size()) {
            size_t start = pos;
            if (!is_whitespace(next_code_point(text, pos))) {
                begin = start;
                break;
            }
            begin = pos;
        }
    }
    if (right) {
        size_t pos = begin, last_end = begin;
        while (pos < text.size()) {
            if (!is_whitespace(next_code_point(text, pos))) last_end = pos;
        }
        end = last_end;
    }
    return std::string(text.substr(begin, end > begin ? end - begin : 0));
}

std::string replace_all(std::string_view text, const std::string& pattern, const Regex* regex,
                        const std::string& content) {
    std::string out;
    out.reserve(text.size());
    if (regex) {
        size_t last = 0;
        for (auto [b, e] : regex->find_all(text)) {
            out.append(text.substr(last, b - last));
            out += content;
            last = e;
        }
        out.append(text.substr(last));
        return out;
    }
    if (pattern.empty()) return std::string(text);
    size_t last = 0;
    for (size_t at = text.find(pattern); at != std::string_view::npos; at = text.find(pattern, last)) {
        out.append(text.substr(last, at - last));
        out += content;
        last = at + pattern.size();
    }
    out.append(text.substr(last));
    return out;
}

std::string ReplaceNormalizer::normalize(std::string_view text) const {
    return replace_all(text, pattern, regex.get(), content);
}

std::string BertNormalizer::normalize(std::string_view text) const {
    std::string out;
    out.reserve(text.size() + 8);
    size_t pos = 0;
    while (pos < text.size()) {
        size_t start = pos;
        char32_t cp = next_code_point(text, pos);
        if (clean_text) {
            if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
            if (cp == '\t' || cp == '\n' || cp == '\r' || is_whitespace(cp)) {
                out += ' ';
                continue;
            }
        }
        if (handle_chinese_chars && is_chinese_char(cp)) {
            out += ' ';
            out.append(text.substr(start, pos - start));
            out += ' ';
            continue;
        }
        out.append(text.substr(start, pos - start));
    }
    if (strip_accents) out = drop_code_points(normalize_unicode(out, NormalForm::nfd), is_nonspacing_mark);
    if (lowercase) out = to_lower(out);
    return out;
}

}  // namespace slm::tok
