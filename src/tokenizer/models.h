// Token models: how one pre-tokenized word becomes ids. BPE (merge ranks, as HF tokenizers and
// llama.cpp's BPE), SentencePiece BPE by piece scores (llama.cpp's SPM), Unigram (Viterbi),
// WordPiece (greedy longest match).
#pragma once

#include "tokenizer/pipeline.h"

#include <mutex>
#include <shared_mutex>

namespace slm::tok {

struct BpeModel : TokenModel {
    const Vocab& vocab;
    // (left id, right id) -> (rank, merged id)
    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;
    bool byte_fallback = false;   // unknown characters become <0xXX> tokens
    bool ignore_merges = false;   // a word that is itself a token is not split (Llama 3)
    std::optional<int32_t> unk;
    bool fuse_unk = false;
    std::string continuing_subword_prefix, end_of_word_suffix;

    explicit BpeModel(const Vocab& v) : vocab(v) {}
    // Adds a merge of two pieces; returns false when a piece or the merged piece is not in the vocabulary.
    bool add_merge(std::string_view left, std::string_view right, int32_t rank);
    void tokenize(std::string_view word, std::vector<int32_t>& out) const override;

private:
    void merge_word(std::string_view word, std::vector<int32_t>& out) const;
    // Words repeat: their ids are remembered (bounded; shared between threads).
    mutable std::shared_mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

// llama.cpp's SPM tokenizer: adjacent pieces merge when their concatenation is a token, highest
// score first; characters that never became a token fall back to <0xXX> byte tokens.
struct ScoredBpeModel : TokenModel {
    const Vocab& vocab;
    std::optional<int32_t> unk;
    explicit ScoredBpeModel(const Vocab& v) : vocab(v) {}
    void tokenize(std::string_view word, std::vector<int32_t>& out) const override;
};

struct UnigramModel : TokenModel {
    const Vocab& vocab;  // scores are the log-probabilities
    std::optional<int32_t> unk;
    bool byte_fallback = false;
    bool fuse_unk = true;
    size_t max_piece_bytes = 0;
    float unk_score = 0.0f;
    explicit UnigramModel(const Vocab& v);
    void tokenize(std::string_view word, std::vector<int32_t>& out) const override;
};

struct WordPieceModel : TokenModel {
    const Vocab& vocab;
    int32_t unk = 0;
    std::string word_prefix;                  // "" (HF) or "▁" (llama.cpp's WPM vocabularies)
    std::string continuing_prefix = "##";     // "##" (HF) or "" (llama.cpp)
    size_t max_input_chars_per_word = 100;
    explicit WordPieceModel(const Vocab& v) : vocab(v) {}
    void tokenize(std::string_view word, std::vector<int32_t>& out) const override;
};

}  // namespace slm::tok
