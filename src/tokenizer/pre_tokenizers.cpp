// Pre-tokenizer stages. Every split goes through split_pieces(), which applies Hugging Face's
// delimiter behaviours to a list of match spans, so each stage only says where its matches are.
#include "tokenizer/pre_tokenizers.h"

#include "tokenizer/unicode_text.h"

#include <slm/error.h>

namespace slm::tok {

SplitBehavior parse_split_behavior(const std::string& name, const std::string& where) {
    if (name == "Removed") return SplitBehavior::removed;
    if (name == "Isolated") return SplitBehavior::isolated;
    if (name == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
    if (name == "MergedWithNext") return SplitBehavior::merged_with_next;
    if (name == "Contiguous") return SplitBehavior::contiguous;
    fail("{}: unknown split behavior '{}'", where, name);
}

void split_pieces(std::vector<Piece>& pieces, SplitBehavior behavior, bool invert,
                  const std::function<std::vector<std::pair<size_t, size_t>>(std::string_view)>& find) {
    std::vector<Piece> out;
    out.reserve(pieces.size() * 2);
    for (Piece& piece : pieces) {
        const std::string& s = piece.text;
        // Alternate non-match / match spans covering the whole piece.
        struct Span { size_t b, e; bool match; };
        std::vector<Span> spans;
        size_t last = 0;
        for (auto [b, e] : find(s)) {
            if (b > last) spans.push_back({last, b, false});
            spans.push_back({b, e, true});
            last = e;
        }
        if (last < s.size()) spans.push_back({last, s.size(), false});
        if (invert)
            for (auto& sp : spans) sp.match = !sp.match;

        std::vector<std::pair<size_t, size_t>> parts;
        bool pending_next = false;  // merged_with_next: a match waiting for what follows
        size_t pending_begin = 0;
        for (size_t i = 0; i < spans.size(); ++i) {
            const Span& sp = spans[i];
            switch (behavior) {
                case SplitBehavior::removed:
                    if (!sp.match) parts.emplace_back(sp.b, sp.e);
                    break;
                case SplitBehavior::isolated:
                    parts.emplace_back(sp.b, sp.e);
                    break;
                case SplitBehavior::contiguous:
                    if (sp.match && !parts.empty() && i > 0 && spans[i - 1].match)
                        parts.back().second = sp.e;
                    else
                        parts.emplace_back(sp.b, sp.e);
                    break;
                case SplitBehavior::merged_with_previous:
                    if (sp.match && !parts.empty() && i > 0 && !spans[i - 1].match)
                        parts.back().second = sp.e;
                    else
                        parts.emplace_back(sp.b, sp.e);
                    break;
                case SplitBehavior::merged_with_next:
                    if (sp.match) {
                        if (pending_next) parts.emplace_back(pending_begin, sp.b);
                        pending_next = true;
                        pending_begin = sp.b;
                    } else if (pending_next) {
                        parts.emplace_back(pending_begin, sp.e);
                        pending_next = false;
                    } else {
                        parts.emplace_back(sp.b, sp.e);
                    }
                    break;
            }
        }
        if (pending_next) parts.emplace_back(pending_begin, s.size());
        for (auto [b, e] : parts) {
            if (e <= b) continue;
            out.push_back({s.substr(b, e - b), piece.at_origin && b == 0});
        }
    }
    pieces = std::move(out);
}

void RegexSplitPreTokenizer::split(std::vector<Piece>& pieces) const {
    split_pieces(pieces, behavior, invert, [&](std::string_view s) {
        if (regex) return regex->find_all(s);
        std::vector<std::pair<size_t, size_t>> m;
        if (literal.empty()) return m;
        for (size_t at = s.find(literal); at != std::string_view::npos; at = s.find(literal, at + literal.size()))
            m.emplace_back(at, at + literal.size());
        return m;
    });
}

static const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

ByteLevelPreTokenizer::ByteLevelPreTokenizer(bool prefix_space, bool regex)
    : add_prefix_space(prefix_space), use_regex(regex) {
    if (use_regex) gpt2_ = std::make_unique<Regex>(kGpt2Pattern, "ByteLevel pre-tokenizer");
}

void ByteLevelPreTokenizer::split(std::vector<Piece>& pieces) const {
    if (add_prefix_space)
        for (Piece& p : pieces)
            if (p.text.empty() || p.text[0] != ' ') p.text.insert(0, 1, ' ');
    if (use_regex)
        split_pieces(pieces, SplitBehavior::isolated, false, [&](std::string_view s) { return gpt2_->find_all(s); });
    for (Piece& p : pieces) p.text = byte_level_encode(p.text);
}

void MetaspacePreTokenizer::split(std::vector<Piece>& pieces) const {
    for (Piece& p : pieces) {
        std::string replaced;
        replaced.reserve(p.text.size() + 3);
        for (char c : p.text) {
            if (c == ' ')
                replaced += replacement;
            else
                replaced += c;
        }
        bool starts = replaced.compare(0, replacement.size(), replacement) == 0;
        if (!starts && (prepend == PrependScheme::always || (prepend == PrependScheme::first && p.at_origin)))
            replaced.insert(0, replacement);
        p.text = std::move(replaced);
    }
    if (!split_words) return;
    split_pieces(pieces, SplitBehavior::merged_with_next, false, [&](std::string_view s) {
        std::vector<std::pair<size_t, size_t>> m;
        for (size_t at = s.find(replacement); at != std::string_view::npos; at = s.find(replacement, at + replacement.size()))
            m.emplace_back(at, at + replacement.size());
        return m;
    });
}

static std::vector<std::pair<size_t, size_t>> char_matches(std::string_view s, const std::function<bool(char32_t)>& pred) {
    std::vector<std::pair<size_t, size_t>> m;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t start = pos;
        if (pred(next_code_point(s, pos))) m.emplace_back(start, pos);
    }
    return m;
}

void CharClassPreTokenizer::split(std::vector<Piece>& pieces) const {
    split_pieces(pieces, behavior, false, [&](std::string_view s) { return char_matches(s, is_delimiter); });
}

WhitespacePreTokenizer::WhitespacePreTokenizer()
    : regex_(std::make_unique<Regex>(R"(\w+|[^\w\s]+)", "Whitespace pre-tokenizer")) {}

void WhitespacePreTokenizer::split(std::vector<Piece>& pieces) const {
    split_pieces(pieces, SplitBehavior::removed, true, [&](std::string_view s) { return regex_->find_all(s); });
}

bool is_bert_punctuation(char32_t cp) {
    bool ascii_punct = (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
                       (cp >= 0x7B && cp <= 0x7E);
    return ascii_punct || is_punctuation(cp);
}

static std::unique_ptr<PreTokenizer> char_class(std::function<bool(char32_t)> pred, SplitBehavior behavior) {
    auto p = std::make_unique<CharClassPreTokenizer>();
    p->is_delimiter = std::move(pred);
    p->behavior = behavior;
    return p;
}

std::unique_ptr<PreTokenizer> make_whitespace_split_pre_tokenizer() {
    return char_class(is_whitespace, SplitBehavior::removed);
}

std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer() {
    auto seq = std::make_unique<SequencePreTokenizer>();
    seq->stages.push_back(make_whitespace_split_pre_tokenizer());
    seq->stages.push_back(char_class(is_bert_punctuation, SplitBehavior::isolated));
    return seq;
}

std::unique_ptr<PreTokenizer> make_digits_pre_tokenizer(bool individual_digits) {
    return char_class(is_numeric, individual_digits ? SplitBehavior::isolated : SplitBehavior::contiguous);
}

std::unique_ptr<PreTokenizer> make_punctuation_pre_tokenizer(SplitBehavior behavior) {
    return char_class(is_bert_punctuation, behavior);
}

}  // namespace slm::tok
