// Normalizers: text rewrites applied before pre-tokenization (Hugging Face tokenizers' set:
// Unicode normal forms, lowercase, accent stripping, replace, prepend, strip, BERT's cleanup).
#pragma once

#include "tokenizer/pipeline.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode_text.h"

namespace slm::tok {

struct SequenceNormalizer : Normalizer {
    std::vector<std::unique_ptr<Normalizer>> stages;
    std::string normalize(std::string_view text) const override;
};

struct UnicodeNormalizer : Normalizer {
    NormalForm form;
    explicit UnicodeNormalizer(NormalForm f) : form(f) {}
    std::string normalize(std::string_view text) const override { return normalize_unicode(text, form); }
};

struct LowercaseNormalizer : Normalizer {
    std::string normalize(std::string_view text) const override { return to_lower(text); }
};

struct StripAccentsNormalizer : Normalizer {  // drops combining marks (Mn, Mc, Me)
    std::string normalize(std::string_view text) const override;
};

struct PrependNormalizer : Normalizer {  // prepends to non-empty text
    std::string prefix;
    explicit PrependNormalizer(std::string p) : prefix(std::move(p)) {}
    std::string normalize(std::string_view text) const override;
};

struct StripNormalizer : Normalizer {
    bool left = true, right = true;
    std::string normalize(std::string_view text) const override;
};

// Replace: a literal string, or a regex when `regex` is set.
struct ReplaceNormalizer : Normalizer {
    ReplaceNormalizer() = default;
    ReplaceNormalizer(std::string from, std::string to) : pattern(std::move(from)), content(std::move(to)) {}
    std::string pattern, content;
    std::unique_ptr<Regex> regex;
    std::string normalize(std::string_view text) const override;
};

struct BertNormalizer : Normalizer {
    bool clean_text = true, handle_chinese_chars = true, lowercase = true;
    bool strip_accents = true;  // HF: null means "same as lowercase"
    std::string normalize(std::string_view text) const override;
};

// Replaces every match of a literal or regex pattern in text (shared by Replace normalizer and decoder).
std::string replace_all(std::string_view text, const std::string& pattern, const Regex* regex,
                        const std::string& content);

}  // namespace slm::tok
