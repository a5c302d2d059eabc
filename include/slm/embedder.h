// Embedder: texts -> one vector each, from a BERT-family encoder (pooling and normalisation as
// the model's sentence-transformers files declare) or from a decoder model in embedding mode
// (mean or last-token pooling of its final hidden states). What `slm embed`, rag/ and the server use.
#pragma once

#include <slm/tokenizer.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slm {

// How the per-token hidden states of a text become one vector: the first token's ([CLS]), the
// mean over the text's tokens (special ones included, as sentence-transformers averages every
// token the attention mask keeps), or the last token's (decoders read the whole text there).
enum class Pooling { cls, mean, last };
Pooling parse_pooling(std::string_view name);  // "cls", "mean", "last" (or "lasttoken"); slm::Error otherwise
std::string_view pooling_name(Pooling pooling);

struct EmbedderOptions {
    // "" keeps the model's own: its sentence-transformers 1_Pooling/config.json (GGUF: the key
    // bert.pooling_type), else mean (as sentence-transformers wraps a plain model). Otherwise
    // cls | mean | last.
    std::string pooling;
    // Unset keeps the model's own: for an encoder directory, whether its modules.json lists a
    // Normalize module; true for a GGUF encoder (GGUF records no such module; llama.cpp normalises
    // by default) and for a decoder (cosine similarity is the only use of its vectors).
    std::optional<bool> normalize;
    int threads = 0;         // 0: one per hardware thread
    // Tokens per text, special tokens included; longer texts are cut there (as sentence-transformers
    // truncates). 0: the model's max_seq_length (sentence_bert_config.json), else its position limit,
    // at most 512 for a decoder.
    int64_t max_tokens = 0;
    // Tokens per forward: texts are grouped (by length, so padding stays small) up to this many.
    int64_t batch_tokens = 2048;
};

class EmbeddingBackbone;  // src/runtime/embedding_backbone.h

class Embedder {
public:
    // Opens an HF directory or GGUF file: a BertModel / XLMRobertaModel encoder (GGUF: llama.cpp's
    // `bert` naming), or any decoder slm runs. slm::Error naming the file or the option when it cannot.
    static std::unique_ptr<Embedder> open(const std::string& path, const EmbedderOptions& options = {});
    ~Embedder();
    Embedder(const Embedder&) = delete;
    Embedder& operator=(const Embedder&) = delete;

    int64_t dim() const;
    // The model's identity (architecture, dimension, a fingerprint of its weights), pooling,
    // normalisation and max_tokens in one string: vectors made under two different ids are not
    // comparable, so a knowledge base records it and refuses another. Moving or renaming the
    // files keeps it; another quantization of the same model changes it.
    std::string id() const;
    // A short name for messages: the directory's or file's name.
    const std::string& name() const { return name_; }
    bool is_encoder() const;
    const Tokenizer& tokenizer() const { return *tokenizer_; }
    int64_t max_tokens() const { return max_tokens_; }
    Pooling pooling() const { return pooling_; }
    bool normalize() const { return normalize_; }

    // The ids the model reads for `text`: special tokens added as its tokenizer adds them, the
    // text cut to max_tokens() (the specials kept).
    std::vector<int32_t> tokens(std::string_view text) const;
    // One vector of dim() floats per text, in order. An empty text is embedded as its special
    // tokens alone (a decoder without any: a zero vector). Not safe to call from two threads at once.
    std::vector<std::vector<float>> embed(std::span<const std::string> texts);
    // The same from token ids (each as tokens() makes them, at most max_tokens()).
    std::vector<std::vector<float>> embed_tokens(std::span<const std::vector<int32_t>> texts);

private:
    Embedder() = default;
    std::unique_ptr<EmbeddingBackbone> backbone_;
    std::unique_ptr<Tokenizer> tokenizer_;
    std::string name_, identity_;
    Pooling pooling_ = Pooling::mean;
    bool normalize_ = true;
    int64_t max_tokens_ = 0, batch_tokens_ = 0;
};

}  // namespace slm
