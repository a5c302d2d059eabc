// BPE by merge ranks (Hugging Face tokenizers' BPE; also llama.cpp's byte-level BPE, whose
// merges come from tokenizer.ggml.merges), and llama.cpp's score-ordered SentencePiece BPE.
#include "tokenizer/bpe_merge.h"
#include "tokenizer/models.h"
#include "tokenizer/unicode_text.h"

namespace slm::tok {

static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

bool BpeModel::add_merge(std::string_view left, std::string_view right, int32_t rank) {
    auto a = vocab.find(left), b = vocab.find(right);
    if (!a || !b) return false;
    std::string merged(left);
    // With a continuing-subword prefix, the right piece carries it but the merged token does not.
    if (!continuing_subword_prefix.empty() && right.starts_with(continuing_subword_prefix))
        merged += right.substr(continuing_subword_prefix.size());
    else
        merged += right;
    auto m = vocab.find(merged);
    if (!m) return false;
    merges.try_emplace(pair_key(*a, *b), rank, *m);  // the first (lowest) rank wins
    return true;
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    if (ignore_merges) {
        if (auto id = vocab.find(word)) {
            out.push_back(*id);
            return;
        }
    }
    constexpr size_t kMaxCachedWord = 64, kMaxCacheEntries = 1 << 16;
    if (word.size() > kMaxCachedWord) return merge_word(word, out);
    {
        std::shared_lock lock(cache_mutex_);
        auto it = cache_.find(word);
        if (it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    size_t first = out.size();
    merge_word(word, out);
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.try_emplace(std::string(word), out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
    std::vector<MergeSymbol> symbols;
    symbols.reserve(word.size());
    std::string buffer;
    size_t pos = 0;
    bool last_was_unk = false;
    while (pos < word.size()) {
        size_t start = pos;
        next_code_point(word, pos);
        std::string_view ch = word.substr(start, pos - start);
        std::optional<int32_t> id;
        bool first = start == 0, last = pos == word.size();
        if (continuing_subword_prefix.empty() && end_of_word_suffix.empty()) {
            id = vocab.find(ch);
        } else {
            buffer.clear();
            if (!first) buffer += continuing_subword_prefix;
            buffer += ch;
            if (last) buffer += end_of_word_suffix;
            id = vocab.find(buffer);
        }
        auto push = [&](int32_t tid, size_t b, size_t e) {
            auto n = static_cast<int32_t>(symbols.size());
            symbols.push_back({tid, static_cast<uint32_t>(b), static_cast<uint32_t>(e), n - 1, -1});
            if (n > 0) symbols[static_cast<size_t>(n - 1)].next = n;
        };
        if (id) {
            push(*id, start, pos);
            last_was_unk = false;
            continue;
        }
        if (byte_fallback) {
            bool all = true;
            for (size_t i = start; i < pos; ++i) all = all && vocab.byte_token(static_cast<uint8_t>(word[i])) >= 0;
            if (all) {
                for (size_t i = start; i < pos; ++i) push(vocab.byte_token(static_cast<uint8_t>(word[i])), i, i + 1);
                last_was_unk = false;
                continue;
            }
        }
        if (!unk) continue;  // HF drops characters it cannot represent when there is no unk token
        if (fuse_unk && last_was_unk) {
            symbols.back().end = static_cast<uint32_t>(pos);
        } else {
            push(*unk, start, pos);
        }
        last_was_unk = true;
    }
    merge_symbols(symbols, [&](const MergeSymbol& a, const MergeSymbol& b) -> std::optional<std::pair<double, int32_t>> {
        auto it = merges.find(pair_key(a.id, b.id));
        if (it == merges.end()) return std::nullopt;
        return std::pair<double, int32_t>{static_cast<double>(it->second.first), it->second.second};
    });
    for (const MergeSymbol& s : symbols)
        if (s.end != s.begin) out.push_back(s.id);
}

void ScoredBpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    std::vector<MergeSymbol> symbols;
    symbols.reserve(word.size());
    size_t pos = 0;
    while (pos < word.size()) {
        size_t start = pos;
        pos += std::min(utf8_sequence_length(static_cast<uint8_t>(word[pos])), word.size() - pos);
        auto id = vocab.find(word.substr(start, pos - start));
        auto n = static_cast<int32_t>(symbols.size());
        symbols.push_back({id ? *id : -1, static_cast<uint32_t>(start), static_cast<uint32_t>(pos), n - 1, -1});
        if (n > 0) symbols[static_cast<size_t>(n - 1)].next = n;
    }
    merge_symbols(symbols, [&](const MergeSymbol& a, const MergeSymbol& b) -> std::optional<std::pair<double, int32_t>> {
        auto id = vocab.find(word.substr(a.begin, b.end - a.begin));
        if (!id) return std::nullopt;
        float score = vocab.scores.empty() ? 0.0f : vocab.scores[static_cast<size_t>(*id)];
        return std::pair<double, int32_t>{-static_cast<double>(score), *id};
    });
    for (const MergeSymbol& s : symbols) {
        if (s.end == s.begin) continue;
        if (s.id >= 0) {
            out.push_back(s.id);
            continue;
        }
        for (uint32_t i = s.begin; i < s.end; ++i) {
            int32_t b = vocab.byte_token(static_cast<uint8_t>(word[i]));
            if (b >= 0)
                out.push_back(b);
            else if (unk)
                out.push_back(*unk);
        }
    }
}

}  // namespace slm::tok
