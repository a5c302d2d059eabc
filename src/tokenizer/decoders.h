// Decoders: token strings back to text, as Hugging Face tokenizers' decode_chain stages
// (ByteLevel, Metaspace, WordPiece, Replace, ByteFallback, Fuse, Strip, BPE suffix, Sequence).
#pragma once

#include "tokenizer/pipeline.h"
#include "tokenizer/pre_tokenizers.h"
#include "tokenizer/regex.h"

namespace slm::tok {

struct SequenceDecoder : Decoder {
    std::vector<std::unique_ptr<Decoder>> stages;
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (const auto& s : stages) s->decode_chain(tokens);
    }
};

struct ByteLevelDecoder : Decoder {  // undo GPT-2's byte map; invalid UTF-8 becomes U+FFFD
    void decode_chain(std::vector<std::string>& tokens) const override;
};

struct MetaspaceDecoder : Decoder {
    std::string replacement = "\xE2\x96\x81";
    PrependScheme prepend = PrependScheme::always;
    void decode_chain(std::vector<std::string>& tokens) const override;
};

struct WordPieceDecoder : Decoder {
    std::string prefix = "##";
    bool cleanup = true;
    void decode_chain(std::vector<std::string>& tokens) const override;
};

struct ReplaceDecoder : Decoder {
    ReplaceDecoder() = default;
    ReplaceDecoder(std::string from, std::string to) : pattern(std::move(from)), content(std::move(to)) {}
    std::string pattern, content;
    std::unique_ptr<Regex> regex;
    void decode_chain(std::vector<std::string>& tokens) const override;
};

struct ByteFallbackDecoder : Decoder {  // runs of <0xXX> tokens become their bytes
    void decode_chain(std::vector<std::string>& tokens) const override;
};

struct FuseDecoder : Decoder {
    void decode_chain(std::vector<std::string>& tokens) const override;
};

struct StripDecoder : Decoder {  // removes up to `start`/`stop` copies of `content` per token
    std::string content = " ";
    size_t start = 0, stop = 0;
    void decode_chain(std::vector<std::string>& tokens) const override;
};

struct BpeSuffixDecoder : Decoder {  // HF "BPEDecoder": end-of-word suffix becomes a space
    std::string suffix = "</w>";
    void decode_chain(std::vector<std::string>& tokens) const override;
};

// BERT's clean_up_tokenization: " ." -> "." and the like (transformers' clean_up_tokenization_spaces).
std::string clean_up_tokenization(std::string text);

}  // namespace slm::tok
