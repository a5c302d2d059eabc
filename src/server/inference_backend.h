// InferenceBackend: what the Scheduler needs from a model, and nothing more: one forward over a
// batch of tokens from several sequences (each token with its position and sequence id), KV-cache
// sequence edits for prefix reuse, end-of-generation ids, a streaming text decoder, and samplers.
// runtime_backend.cpp implements it over the runtime's Session, SamplerChain and Tokenizer.
#pragma once

#include "server/adapter_set.h"

#include <slm/error.h>
#include <slm/kernels.h>
#include <slm/model.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace slm::server {

class JsonGrammar;

struct BatchEntry {
    int32_t token = 0;
    int32_t pos = 0;     // position in its sequence
    int32_t seq = 0;     // sequence id (a KV-cache slot), 0 <= seq < max_sequences()
    bool logits = false; // whether this token's next-token logits are wanted
};

// Per-request sampling settings, as the routes parsed them (OpenAI and ollama names mapped here).
struct SamplingParams {
    float temperature = 1.0f;  // 0: greedy
    float top_p = 1.0f;
    int top_k = 0;             // 0: off
    float min_p = 0.0f;
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
    float repeat_penalty = 1.0f;
    int penalty_last_n = 64;
    std::vector<std::pair<int32_t, float>> logit_bias;
    std::optional<uint64_t> seed;
    std::shared_ptr<const JsonGrammar> json;  // response_format: the grammar stage, or null
};

// Picks the next token from one row of logits; remembers what it picked (penalties, grammar).
class TokenSampler {
public:
    virtual ~TokenSampler() = default;
    // `logits` has vocab_size() entries and may be modified. Returns the chosen token.
    virtual int32_t sample(std::span<float> logits) = 0;
    // How many of the most likely tokens the next draw depends on (0: the whole row, sample());
    // when every sampler of a step names a count, the step's forward returns only that many.
    virtual int candidates_needed() const { return 0; }
    // sample() from the row's most likely tokens only, most likely first, at least
    // candidates_needed() of them.
    virtual int32_t sample_top(std::span<const int32_t> ids, std::span<const float> logits) {
        (void)ids, (void)logits;
        fail("sampler: this sampler reads every token's logit");
    }
    // Tokens of the prompt, so that penalties see them as transformers' generate does.
    virtual void accept_prompt(std::span<const int32_t> tokens) = 0;
    // True when the constraint (if any) is satisfied and generation may stop.
    virtual bool constraint_complete() const = 0;
};

// Turns generated ids into text pieces that are always complete UTF-8.
class PieceDecoder {
public:
    virtual ~PieceDecoder() = default;
    virtual std::string push(int32_t token) = 0;
    virtual std::string flush() = 0;
};

class InferenceBackend {
public:
    virtual ~InferenceBackend() = default;
    virtual int context_length() const = 0;  // positions per sequence
    virtual int vocab_size() const = 0;
    virtual int max_sequences() const = 0;
    // One forward over `batch` (any mix of sequences), every entry under the LoRA adapters of
    // `adapters` (empty: the base model). `logits` receives vocab_size() floats per entry with
    // logits=true, in batch order.
    virtual void forward(std::span<const BatchEntry> batch, const AdapterSet& adapters, std::vector<float>& logits) = 0;
    // forward, returning only each wanted entry's k most likely tokens (Model::forward_top: from a
    // GPU only they cross); by default the top of forward's logits.
    virtual void forward_top(std::span<const BatchEntry> batch, const AdapterSet& adapters, int k, TopTokens& top) {
        std::vector<float> logits;
        forward(batch, adapters, logits);
        top.k = std::min(k, vocab_size());
        const int64_t rows = int64_t(logits.size()) / vocab_size();
        top.ids.resize(size_t(rows * top.k));
        top.logits.resize(size_t(rows * top.k));
        kernels::top_k(logits.data(), rows, vocab_size(), top.k, top.ids.data(), top.logits.data());
    }
    // Drops the cached positions >= n of sequence `seq` (n = 0 clears it).
    virtual void keep_prefix(int seq, int n) = 0;
    // Copies positions [0, n) of sequence `src` into `dst` (whose cache is cleared first).
    virtual void copy_prefix(int src, int dst, int n) = 0;
    virtual bool is_end_of_generation(int32_t token) const = 0;
    virtual std::unique_ptr<PieceDecoder> new_decoder() const = 0;
    virtual std::unique_ptr<TokenSampler> new_sampler(const SamplingParams& params) const = 0;
    // Calls fn(i) for every i < n, on the compute threads where the backend has them: the
    // sequences of a step are sampled side by side (each slot's sampler is its own).
    virtual void for_each_row(size_t n, const std::function<void(size_t)>& fn) {
        for (size_t i = 0; i < n; ++i) fn(i);
    }
};

}  // namespace slm::server
