// Pre-tokenizers: cut normalized text into the words the model tokenizes one by one (regex
// Split, ByteLevel, Metaspace, Whitespace, BERT, Digits, Punctuation, Sequence), as Hugging Face
// tokenizers does.
#pragma once

#include "tokenizer/pipeline.h"
#include "tokenizer/regex.h"

#include <functional>

namespace slm::tok {

// What happens to the matched delimiters (HF SplitDelimiterBehavior).
enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };
SplitBehavior parse_split_behavior(const std::string& name, const std::string& where);

// Splits each piece at matches found by `find` (byte spans), keeping them per `behavior`.
void split_pieces(std::vector<Piece>& pieces, SplitBehavior behavior, bool invert,
                  const std::function<std::vector<std::pair<size_t, size_t>>(std::string_view)>& find);

struct SequencePreTokenizer : PreTokenizer {
    std::vector<std::unique_ptr<PreTokenizer>> stages;
    void split(std::vector<Piece>& pieces) const override {
        for (const auto& s : stages) s->split(pieces);
    }
};

struct RegexSplitPreTokenizer : PreTokenizer {  // HF "Split" (regex or literal)
    std::unique_ptr<Regex> regex;
    std::string literal;  // used when regex is null
    SplitBehavior behavior = SplitBehavior::isolated;
    bool invert = false;
    void split(std::vector<Piece>& pieces) const override;
};

struct ByteLevelPreTokenizer : PreTokenizer {
    bool add_prefix_space = false;
    bool use_regex = true;  // GPT-2's split regex
    ByteLevelPreTokenizer(bool prefix_space, bool regex);
    void split(std::vector<Piece>& pieces) const override;

private:
    std::unique_ptr<Regex> gpt2_;
};

enum class PrependScheme { always, first, never };

struct MetaspacePreTokenizer : PreTokenizer {
    std::string replacement = "\xE2\x96\x81";  // ▁
    PrependScheme prepend = PrependScheme::always;
    bool split_words = true;
    void split(std::vector<Piece>& pieces) const override;
};

// Splits with a per-character predicate (one match per character).
struct CharClassPreTokenizer : PreTokenizer {
    std::function<bool(char32_t)> is_delimiter;
    SplitBehavior behavior = SplitBehavior::isolated;
    void split(std::vector<Piece>& pieces) const override;
};

struct WhitespacePreTokenizer : PreTokenizer {  // \w+|[^\w\s]+
    WhitespacePreTokenizer();
    void split(std::vector<Piece>& pieces) const override;

private:
    std::unique_ptr<Regex> regex_;
};

// BERT: drop whitespace, isolate each punctuation character.
std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer();
std::unique_ptr<PreTokenizer> make_whitespace_split_pre_tokenizer();
std::unique_ptr<PreTokenizer> make_digits_pre_tokenizer(bool individual_digits);
std::unique_ptr<PreTokenizer> make_punctuation_pre_tokenizer(SplitBehavior behavior);
bool is_bert_punctuation(char32_t cp);

}  // namespace slm::tok
