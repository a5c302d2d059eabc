// Perplexity and KL divergence of a causal model over a token stream, with the rules of
// llama.cpp's llama-perplexity so that the numbers compare: the stream is cut into
// non-overlapping windows of n_ctx tokens, each window is evaluated from an empty cache with its
// first token replaced by BOS (when the vocabulary adds one), and only the second half of each
// window is scored. With a base model (same vocabulary), the same windows also give the mean
// KL(base || model) over the scored tokens and how often both models pick the same top token,
// the numbers quantization types are compared by.
#pragma once

#include <slm/model.h>
#include <slm/tokenizer.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace slm::eval {

// What llama-perplexity scores: the whole text tokenized once with the vocabulary's special
// tokens, and the BOS each window starts with (none when the vocabulary adds no BOS).
struct PerplexityTokens {
    std::vector<int32_t> tokens;
    std::optional<int32_t> bos;

    static PerplexityTokens from_text(const Tokenizer& tokenizer, std::string_view text);
};

struct PerplexityOptions {
    int n_ctx = 512;
    int max_chunks = -1;  // -1: every whole window
    int threads = 0;      // 0: one per hardware thread
    DType kv_dtype = DType::f16;  // llama-perplexity's default cache type
    const Model* kl_base = nullptr;
    LoraStack adapters;   // applied to the model (bound to it), not to kl_base
};

struct PerplexityResult {
    double ppl = 0, ppl_stderr = 0;
    int n_chunks = 0, n_ctx = 0;
    int64_t n_scored = 0;
    std::vector<double> running_ppl;  // after each chunk
    // Only with a base model:
    std::optional<double> kld;
    std::optional<double> same_top_token;  // fraction in [0, 1]
};

// Called after each chunk with its index and the perplexity so far.
using PerplexityCallback = std::function<void(int chunk, double running_ppl)>;

// Throws slm::Error when the stream is shorter than two windows, the context is too small, or
// the base model's vocabulary differs.
PerplexityResult perplexity(const Model& model, const PerplexityTokens& input, const PerplexityOptions& options,
                            const PerplexityCallback& on_chunk = {});

}  // namespace slm::eval
