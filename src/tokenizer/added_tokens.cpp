// AddedTokenMatcher: finds added/special tokens in text (leftmost, then longest, as Hugging
// Face's Aho-Corasick matcher does), honouring lstrip/rstrip/single_word, and cuts them out.
#include "tokenizer/pipeline.h"
#include "tokenizer/unicode_text.h"

#include <algorithm>

namespace slm::tok {

void AddedTokenMatcher::add(AddedToken token) {
    if (token.content.empty()) return;
    auto it = by_id_.find(token.id);
    if (it != by_id_.end()) {
        tokens_[it->second] = std::move(token);
        return;
    }
    by_id_[token.id] = tokens_.size();
    tokens_.push_back(std::move(token));
}

const AddedToken* AddedTokenMatcher::find_by_id(int32_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

static bool word_char_before(const std::string& s, size_t at) {
    if (at == 0) return false;
    size_t b = at - 1;
    while (b > 0 && (static_cast<uint8_t>(s[b]) & 0xC0) == 0x80) --b;
    size_t pos = b;
    return is_alphanumeric(next_code_point(s, pos));
}

static bool word_char_at(const std::string& s, size_t at) {
    if (at >= s.size()) return false;
    return is_alphanumeric(next_code_point(s, at));
}

void AddedTokenMatcher::split(const std::string& text, bool normalized_pass, bool parse_special,
                              bool text_at_origin, std::vector<Section>& out) const {
    // Candidates by first byte, longest first.
    std::vector<const AddedToken*> candidates[256];
    bool any = false;
    for (const auto& t : tokens_) {
        if (t.normalized != normalized_pass || (t.special && !parse_special)) continue;
        candidates[static_cast<uint8_t>(t.content[0])].push_back(&t);
        any = true;
    }
    if (!any) {
        if (!text.empty()) out.push_back({text, -1, text_at_origin});
        return;
    }
    for (auto& c : candidates)
        std::stable_sort(c.begin(), c.end(), [](auto* a, auto* b) { return a->content.size() > b->content.size(); });

    size_t section_start = 0;
    auto emit_text = [&](size_t b, size_t e) {
        if (e > b) out.push_back({text.substr(b, e - b), -1, text_at_origin && b == 0});
    };
    size_t i = 0;
    while (i < text.size()) {
        const AddedToken* hit = nullptr;
        for (const AddedToken* t : candidates[static_cast<uint8_t>(text[i])]) {
            if (text.compare(i, t->content.size(), t->content) != 0) continue;
            if (t->single_word && (word_char_before(text, i) || word_char_at(text, i + t->content.size()))) continue;
            hit = t;
            break;
        }
        if (!hit) {
            ++i;
            continue;
        }
        size_t begin = i, end = i + hit->content.size();
        if (hit->lstrip) {
            while (begin > section_start && (text[begin - 1] == ' ' || text[begin - 1] == '\t' ||
                                             text[begin - 1] == '\n' || text[begin - 1] == '\r'))
                --begin;
        }
        if (hit->rstrip) {
            while (end < text.size() && (text[end] == ' ' || text[end] == '\t' || text[end] == '\n' || text[end] == '\r'))
                ++end;
        }
        emit_text(section_start, begin);
        out.push_back({std::string(), hit->id, false});
        section_start = end;
        i = end;
    }
    emit_text(section_start, text.size());
}

}  // namespace slm::tok
