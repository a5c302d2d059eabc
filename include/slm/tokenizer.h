// Tokenizer: text <-> token ids for byte-level BPE, SentencePiece BPE, Unigram and WordPiece
// vocabularies, built from tokenizer.json (+ tokenizer_config.json) or GGUF tokenizer.ggml.* keys,
// matching Hugging Face tokenizers / llama.cpp id for id. StreamingDecoder turns ids into text
// for generation, emitting only complete UTF-8.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slm {

class GgufFile;
struct TokenizerPipeline;  // src/tokenizer/pipeline.h

class Tokenizer {
public:
    ~Tokenizer();
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;

    // Loaders; each throws slm::Error naming the file and the field that is wrong.
    static std::unique_ptr<Tokenizer> from_hf_files(const std::string& tokenizer_json_path,
                                                    const std::string& tokenizer_config_json_path /* may be empty */);
    // The same from JSON text held in memory (tests, fuzzing); `source` names it in errors.
    static std::unique_ptr<Tokenizer> from_hf_json(std::string_view tokenizer_json,
                                                   std::string_view tokenizer_config_json /* may be empty */,
                                                   const std::string& source);
    static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& gguf);
    static std::unique_ptr<Tokenizer> from_model_path(const std::string& path);  // HF dir, .gguf or tokenizer.json

    // add_special: BOS/EOS/post-processor as the model's tokenizer does by default
    // (transformers' tokenizer(text).input_ids); parse_special: special-token strings in the
    // text map to their ids (otherwise they are plain text).
    std::vector<int32_t> encode(std::string_view text, bool add_special = true, bool parse_special = false) const;
    std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

    std::string token_piece(int32_t id) const;  // the vocabulary string of a token ("" when out of range)
    int32_t vocab_size() const;
    std::optional<int32_t> token_id(std::string_view piece) const;
    std::optional<int32_t> bos_id() const;
    std::optional<int32_t> unk_id() const;
    std::optional<int32_t> pad_id() const;
    std::vector<int32_t> eos_ids() const;  // every end-of-generation id (eos, eot, im_end…)
    bool is_special(int32_t id) const;     // control / added special token
    bool add_bos() const;
    bool add_eos() const;
    std::string type_name() const;  // "BPE (byte-level)", "SentencePiece BPE", "Unigram", "WordPiece"

    // The raw bytes a token stands for when decoded on its own, without the decoder's
    // start-of-text rules (byte-level mapping undone, ▁ as space, <0xXX> as one byte).
    std::string token_bytes(int32_t id) const;

    const TokenizerPipeline& pipeline() const { return *pipeline_; }

private:
    explicit Tokenizer(std::unique_ptr<TokenizerPipeline> pipeline);
    std::unique_ptr<TokenizerPipeline> pipeline_;
};

// Streaming-safe decoding for generation: push ids one by one, get text only when complete UTF-8
// is available (byte-fallback tokens assembled; SentencePiece leading space as the reference).
class StreamingDecoder {
public:
    explicit StreamingDecoder(const Tokenizer& tok, bool skip_special = true);
    std::string push(int32_t id);
    std::string flush();  // whatever is pending (an incomplete UTF-8 tail becomes U+FFFD)

private:
    const Tokenizer& tok_;
    bool skip_special_;
    std::vector<int32_t> ids_;  // every id pushed so far
    // Text is decoded from ids_[prefix_offset_..]; the part for ids before read_offset_ was
    // already returned (the prefix keeps start-of-text decoder rules from firing mid-stream).
    size_t prefix_offset_ = 0;
    size_t read_offset_ = 0;
};

}  // namespace slm
