// Unigram (SentencePiece's unigram LM as Hugging Face tokenizers runs it): the best-scoring
// segmentation by Viterbi over every vocabulary piece that matches at each character.
#include "tokenizer/models.h"
#include "tokenizer/unicode_text.h"

#include <limits>

namespace slm::tok {

UnigramModel::UnigramModel(const Vocab& v) : vocab(v) {
    float min_score = std::numeric_limits<float>::max();
    for (float s : vocab.scores) min_score = std::min(min_score, s);
    if (vocab.scores.empty()) min_score = 0.0f;
    unk_score = min_score - 10.0f;  // HF/SentencePiece: kUnkPenalty below the rarest piece
    for (const auto& p : vocab.pieces) max_piece_bytes = std::max(max_piece_bytes, p.size());
}

void UnigramModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    struct Node {
        int32_t id = -1;
        double score = 0.0;
        int64_t starts_at = -1;
    };
    const size_t n = word.size();
    std::vector<Node> best(n + 1);
    best[0].starts_at = 0;
    size_t start = 0;
    while (start < n) {
        double till_here = best[start].score;
        size_t char_len = std::min(utf8_sequence_length(static_cast<uint8_t>(word[start])), n - start);
        bool has_single = false;
        size_t limit = std::min(n - start, max_piece_bytes);
        for (size_t len = 1; len <= limit; ++len) {
            auto id = vocab.find(word.substr(start, len));
            if (!id) continue;
            Node& target = best[start + len];
            double candidate = till_here + (vocab.scores.empty() ? 0.0 : vocab.scores[static_cast<size_t>(*id)]);
            if (target.starts_at < 0 || candidate > target.score) {
                target = {*id, candidate, static_cast<int64_t>(start)};
            }
            if (len == char_len) has_single = true;
        }
        if (!has_single) {
            Node& target = best[start + char_len];
            double candidate = till_here + unk_score;
            if (target.starts_at < 0 || candidate > target.score) {
                target = {unk.value_or(-1), candidate, static_cast<int64_t>(start)};
            }
        }
        start += char_len;
    }
    // Walk back; consecutive unknown stretches fuse into one piece.
    std::vector<std::string> pieces;
    std::string unk_run;
    size_t end = n;
    while (end > 0) {
        const Node& node = best[end];
        auto begin = static_cast<size_t>(node.starts_at);
        bool is_unk = node.id < 0 || (unk && node.id == *unk);
        if (fuse_unk && is_unk) {
            unk_run.insert(0, word.substr(begin, end - begin));
        } else {
            if (!unk_run.empty()) pieces.push_back(std::move(unk_run)), unk_run.clear();
            pieces.emplace_back(is_unk ? std::string(word.substr(begin, end - begin)) : vocab.pieces[static_cast<size_t>(node.id)]);
        }
        end = begin;
    }
    if (!unk_run.empty()) pieces.push_back(std::move(unk_run));
    for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
        if (auto id = vocab.find(*it)) {
            out.push_back(*id);
            continue;
        }
        if (byte_fallback) {
            bool all = true;
            for (char c : *it) all = all && vocab.byte_token(static_cast<uint8_t>(c)) >= 0;
            if (all) {
                for (char c : *it) out.push_back(vocab.byte_token(static_cast<uint8_t>(c)));
                continue;
            }
        }
        if (unk) out.push_back(*unk);
    }
}

}  // namespace slm::tok
