// Session: one model, its KV cache and thread pool, for one conversation or many sequences.
// A prompt is processed in chunks (a whole chunk of tokens per forward); a new prompt that shares
// a prefix with what the cache holds reuses it and processes only the new suffix; decode appends
// one token at a time. A context that would overflow is a clear slm::Error.
#pragma once

#include <slm/model.h>
#include <slm/thread_pool.h>

#include <cstdint>
#include <span>
#include <vector>

namespace slm {

struct SessionOptions {
    int n_ctx = 0;              // 0: the model's max_position, at most 4096 (a 128k context would reserve gigabytes)
    int n_batch = 512;          // tokens per forward while processing a prompt
    int n_seq = 1;              // sequences the cache holds
    DType kv_dtype = DType::f16;
    int threads = 0;            // 0: one per hardware thread
    LoraStack adapters;         // LoRA adapters bound to the model, applied in every forward; none by default
};

class Session {
public:
    Session(const Model& model, const SessionOptions& options = {});

    const Model& model() const { return model_; }
    int n_ctx() const { return cache_.n_ctx(); }
    ThreadPool& pool() { return pool_; }
    const LoraStack& adapters() const { return adapters_; }
    KvCache& cache() { return cache_; }

    // Makes sequence `seq` hold exactly `tokens`, keeping the longest common prefix already in the
    // cache, and returns the logits after the last token ([vocab]). `tokens` must not be empty.
    std::span<const float> prompt(std::span<const int32_t> tokens, int seq = 0);
    // Appends one token to sequence `seq` and returns the logits after it.
    std::span<const float> decode(int32_t token, int seq = 0);
    // prompt() and decode() for a sampler that reads only the k most likely next tokens
    // (SamplerChain::candidates_needed): the same cache work, and those tokens (Model::forward_top;
    // from a GPU only they cross) instead of the logits.
    const TopTokens& prompt_top(std::span<const int32_t> tokens, int k, int seq = 0);
    const TopTokens& decode_top(int32_t token, int k, int seq = 0);
    // The tokens sequence `seq` holds, and how many of the last prompt's came from the cache.
    const std::vector<int32_t>& tokens(int seq = 0) const;
    int reused_tokens() const { return reused_; }
    void clear(int seq = 0);

    // Runs a batch as it is (for callers that batch several sequences themselves); the logits
    // of the flagged entries, one row per entry, in batch order. Keeps tokens() up to date.
    const std::vector<float>& forward(const Batch& batch);

private:
    void check_fits(int seq, size_t n_new) const;
    // Brings sequence `seq` up to all of `tokens` but the last chunk, which it leaves in batch_.
    void stage_prompt(std::span<const int32_t> tokens, int seq);
    void stage_decode(int32_t token, int seq);
    const TopTokens& forward_top(const Batch& batch, int k);
    void note_tokens(const Batch& batch);
    const Model& model_;
    ThreadPool pool_;
    KvCache cache_;
    int n_batch_;
    LoraStack adapters_;
    std::vector<std::vector<int32_t>> tokens_;
    std::vector<float> logits_;
    TopTokens top_;
    Batch batch_;
    int reused_ = 0;
};

}  // namespace slm
