// RuntimeBackend: InferenceBackend over the runtime: a Model, one KvCache with a sequence per
// server slot, the compute ThreadPool, the loaded LoRA adapters (bound as a LoraStack per adapter
// set in use), SamplerChain samplers (with the JSON grammar stage) and the Tokenizer's
// StreamingDecoder.
#pragma once

#include "server/inference_backend.h"
#include "server/json_grammar.h"

#include <slm/lora_stack.h>
#include <slm/model.h>
#include <slm/sampler.h>
#include <slm/thread_pool.h>
#include <slm/tokenizer.h>

#include <memory>
#include <vector>

namespace slm::server {

class RuntimeBackend : public InferenceBackend {
public:
    // `n_seq` sequences of `n_ctx` positions each; `threads` compute threads (0: one per core).
    // `adapters` are the loaded LoRA adapters, AdapterSet ids indexing them (their scales unused).
    RuntimeBackend(const Model& model, const Tokenizer& tokenizer, int n_ctx, int n_seq, int threads,
                   std::vector<LoraUse> adapters = {});

    int context_length() const override { return cache_.n_ctx(); }
    int vocab_size() const override { return model_.vocab_size(); }
    int max_sequences() const override { return cache_.n_seq(); }
    void forward(std::span<const BatchEntry> batch, const AdapterSet& adapters, std::vector<float>& logits) override;
    void forward_top(std::span<const BatchEntry> batch, const AdapterSet& adapters, int k, TopTokens& top) override;
    void keep_prefix(int seq, int n) override { cache_.truncate(seq, n); }
    void copy_prefix(int src, int dst, int n) override { cache_.copy_prefix(src, dst, n); }
    bool is_end_of_generation(int32_t token) const override;
    std::unique_ptr<PieceDecoder> new_decoder() const override;
    std::unique_ptr<TokenSampler> new_sampler(const SamplingParams& params) const override;
    void for_each_row(size_t n, const std::function<void(size_t)>& fn) override;

    const std::vector<int32_t>& end_ids() const { return end_ids_; }
    ThreadPool& pool() { return pool_; }  // for work run between steps (run_exclusive)
    // Mean of the final (normed) hidden states over `tokens`, computed in a scratch cache.
    std::vector<float> embed(std::span<const int32_t> tokens, const AdapterSet& adapters);

private:
    // The stack for `set`, bound on first use and kept (binding permutes and checks every module).
    const LoraStack* stack_for(const AdapterSet& set);

    const Model& model_;
    const Tokenizer& tokenizer_;
    KvCache cache_;
    ThreadPool pool_;
    Batch batch_;
    std::vector<int32_t> end_ids_;
    std::vector<LoraUse> adapters_;
    std::vector<std::pair<AdapterSet, LoraStack>> stacks_;  // the sets seen lately, newest last
};

// The grammar as a SamplerChain stage: candidates that would break the JSON are dropped.
class JsonGrammarStage : public SamplerStage {
public:
    explicit JsonGrammarStage(std::shared_ptr<const JsonGrammar> grammar) : matcher_(std::move(grammar)) {}
    std::string name() const override { return "json-grammar"; }
    void apply(TokenCandidates& candidates, std::span<const int32_t> history) override;
    // Advances the grammar over the token that was drawn.
    void accept(int32_t token) { matcher_.accept(token); }
    bool complete() const { return matcher_.complete(); }

private:
    JsonMatcher matcher_;
};

}  // namespace slm::server
