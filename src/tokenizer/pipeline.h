// TokenizerPipeline: the stages a Tokenizer runs, in the order of Hugging Face tokenizers:
// added-token split -> normalizer -> pre-tokenizer -> model -> post-processor, and a decoder
// back. The tokenizer.json and GGUF loaders both build one of these.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace slm {

namespace tok {

// What a vocabulary entry is (GGUF token_type values 1..6 map here).
enum class TokenKind : uint8_t { normal, unknown, control, user_defined, unused, byte };

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Vocab {
    std::vector<std::string> pieces;
    std::vector<float> scores;  // SentencePiece / Unigram log-probabilities (empty when none)
    std::vector<TokenKind> kinds;
    std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids;

    int32_t size() const { return static_cast<int32_t>(pieces.size()); }
    std::optional<int32_t> find(std::string_view piece) const {
        auto it = ids.find(piece);
        if (it == ids.end()) return std::nullopt;
        return it->second;
    }
    // Adds a piece (or returns the id it already has).
    int32_t add(const std::string& piece, TokenKind kind = TokenKind::normal, float score = 0.0f);
    // The id of SentencePiece's byte token <0xXX>, or -1.
    int32_t byte_token(uint8_t b) const { return byte_tokens[b]; }
    void index_byte_tokens();  // fills byte_tokens from the pieces "<0x00>".."<0xFF>"
    int32_t byte_tokens[256];
};

// A stretch of text during pre-tokenization; `at_origin` is true only for the piece that starts
// at offset 0 of the input (Metaspace's prepend_scheme "first" looks at it).
struct Piece {
    std::string text;
    bool at_origin = false;
};

struct Normalizer {
    virtual ~Normalizer() = default;
    virtual std::string normalize(std::string_view text) const = 0;
};

struct PreTokenizer {
    virtual ~PreTokenizer() = default;
    // Replaces `pieces` by their split (and possibly transformed) parts.
    virtual void split(std::vector<Piece>& pieces) const = 0;
};

struct TokenModel {
    virtual ~TokenModel() = default;
    virtual void tokenize(std::string_view word, std::vector<int32_t>& out) const = 0;
};

// Adds the special tokens of a single sequence (BOS/CLS before, EOS/SEP after).
struct PostProcessor {
    std::vector<int32_t> prefix, suffix;
};

struct Decoder {
    virtual ~Decoder() = default;
    // Turns token strings into text pieces (Hugging Face's decode_chain); the result is joined.
    virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

struct AddedToken {
    int32_t id = -1;
    std::string content;
    bool special = false;      // matched only when special tokens are parsed
    bool lstrip = false, rstrip = false, single_word = false;
    bool normalized = false;   // matched in normalized text rather than raw text
};

// One stretch of input after added tokens are cut out: text, or a token id.
struct Section {
    std::string text;
    int32_t token = -1;
    bool at_origin = false;
};

class AddedTokenMatcher {
public:
    void add(AddedToken token);
    bool empty() const { return tokens_.empty(); }
    const std::vector<AddedToken>& tokens() const { return tokens_; }
    const AddedToken* find_by_id(int32_t id) const;
    // Cuts the added tokens of the given kind (normalized or not) out of `text`.
    void split(const std::string& text, bool normalized_pass, bool parse_special, bool text_at_origin,
               std::vector<Section>& out) const;

private:
    std::vector<AddedToken> tokens_;
    std::unordered_map<int32_t, size_t> by_id_;
};

}  // namespace tok

struct TokenizerPipeline {
    tok::Vocab vocab;
    tok::AddedTokenMatcher added;
    std::unique_ptr<tok::Normalizer> normalizer;
    std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
    std::unique_ptr<tok::TokenModel> model;
    tok::PostProcessor post;
    std::unique_ptr<tok::Decoder> decoder;
    std::string type_name;
    std::string source;  // file it came from, for messages
    // How a vocabulary piece spells its bytes (for token_bytes()).
    enum class PieceSpelling { plain, byte_level, metaspace } spelling = PieceSpelling::plain;
    bool clean_up_spaces = false;  // transformers' clean_up_tokenization_spaces

    std::optional<int32_t> bos, eos, unk, pad;
    std::vector<int32_t> eos_ids;
    bool add_bos = false, add_eos = false;
    std::vector<bool> special;   // per id: control / special added token (skipped by skip_special)
    std::vector<bool> added_id;  // per id: an added token (HF) or control/user-defined (GGUF)

    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
    std::string decode(const int32_t* ids, size_t n, bool skip_special) const;
    // Sets special/added_id/eos_ids from the vocabulary and added tokens; loaders call it last.
    void finish();
};

}  // namespace slm
