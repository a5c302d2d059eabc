// EncoderModel: a BERT-family encoder (BertModel, RobertaModel, XLMRobertaModel: post-LayerNorm
// blocks, learned absolute positions, token types, biases everywhere) bound to the weights of an
// HF directory or a GGUF file in llama.cpp's `bert` naming, and its bidirectional forward over a
// batch of texts. What embedding models are (Embedder, slm/embedder.h).
#pragma once

#include <slm/model.h>
#include <slm/model_config.h>
#include <slm/thread_pool.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slm {

// Whether an architecture name (config.json's model_type, GGUF general.architecture) is an
// encoder EncoderModel runs: bert, roberta, xlm-roberta.
bool is_encoder_architecture(std::string_view architecture);

struct EncoderWeights;  // src/model/encoder_weights.h

class EncoderModel {
public:
    // Opens `path` (HF directory or GGUF file) with ModelFiles::open and binds the weights.
    static std::unique_ptr<EncoderModel> load(const std::string& path, const ModelOptions& options = {});
    // Binds the weights of files already open; slm::Error naming any missing or mis-shaped
    // tensor, or an architecture that is not an encoder.
    explicit EncoderModel(ModelFiles files, const ModelOptions& options = {});
    ~EncoderModel();
    EncoderModel(const EncoderModel&) = delete;
    EncoderModel& operator=(const EncoderModel&) = delete;

    const ModelConfig& config() const { return files_.config; }
    const ModelFiles& files() const { return files_; }
    int64_t hidden_size() const { return files_.config.hidden_size; }
    // The most tokens one sequence may have: the rows of the position table past its offset.
    int64_t max_tokens() const { return max_tokens_; }

    // The final hidden states of every token of every sequence, packed in order: hidden is
    // [sum of lengths, D]. Each sequence attends to all of its own tokens and to nothing else (as a
    // padded batch under an attention mask computes it, without the padding's work). Every
    // sequence must hold 1..max_tokens() ids below the vocabulary size.
    void forward(std::span<const std::vector<int32_t>> sequences, std::vector<float>& hidden, ThreadPool* pool) const;

private:
    ModelFiles files_;
    std::unique_ptr<EncoderWeights> weights_;
    int64_t position_offset_ = 0;  // RoBERTa's positions start past the padding id (HF tables only)
    int64_t max_tokens_ = 0;
    float eps_ = 1e-12f;
    void (*activation_)(const float*, int64_t, float*, ThreadPool*) = nullptr;
};

}  // namespace slm
