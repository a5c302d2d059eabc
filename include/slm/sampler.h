// SamplerChain: turns a row of logits into the next token through a chain of stages (logit bias,
// repetition/frequency/presence penalties over a window of recent tokens, top-k, typical, top-p,
// min-p, temperature) and a seeded draw; temperature 0 is greedy. A stage is an interface, so a
// grammar or JSON-schema constraint can be one more stage.
#pragma once

#include <slm/model_config.h>

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace slm {

struct TokenCandidate {
    int32_t id;
    float logit;
    float p;  // probability, valid after TokenCandidates::softmax()
};

// The tokens still in the running; stages narrow and reshape it.
struct TokenCandidates {
    std::vector<TokenCandidate> items;
    bool sorted = false;  // by logit, descending

    void sort_descending();
    // Fills p from the logits (a sort comes first, so that items are in descending order).
    void softmax();
};

class SamplerStage {
public:
    virtual ~SamplerStage() = default;
    virtual std::string name() const = 0;
    // `history`: every token of the sequence so far (prompt and generated).
    virtual void apply(TokenCandidates& candidates, std::span<const int32_t> history) = 0;
};

struct SamplerParams {
    float temperature = 0.8f;  // <= 0: greedy
    int top_k = 40;            // <= 0: off
    float top_p = 0.95f;       // >= 1: off
    float min_p = 0.05f;       // <= 0: off
    float typical_p = 1.0f;    // >= 1: off
    float repeat_penalty = 1.0f;     // 1: off; as transformers' repetition_penalty and llama.cpp's
    float frequency_penalty = 0.0f;  // subtracted once per occurrence
    float presence_penalty = 0.0f;   // subtracted once if present
    int penalty_last_n = 64;         // window of recent tokens the penalties look at (-1: all)
    std::unordered_map<int32_t, float> logit_bias;  // added to the logit; -inf bans a token
    uint64_t seed = 0xfeedface;

    // The model's own sampling defaults (generation_config.json) over slm's: do_sample false
    // gives greedy; top_k/top_p/min_p/typical/temperature/repetition_penalty where given.
    static SamplerParams from_generation_defaults(const GenerationDefaults& defaults);
};

class SamplerChain {
public:
    // The standard chain for `params` (stages in the order of llama.cpp's default chain).
    explicit SamplerChain(const SamplerParams& params);

    void add_stage(std::unique_ptr<SamplerStage> stage);  // runs after the existing stages, before the draw
    const std::vector<std::unique_ptr<SamplerStage>>& stages() const { return stages_; }
    bool greedy() const { return greedy_; }
    void reseed(uint64_t seed) { rng_.seed(seed); }

    // The next token for this row of logits; `history` as for SamplerStage::apply.
    int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

    // How many of the most likely tokens the next draw depends on: 1 when greedy, top_k when the
    // chain has top-k, each plus the tokens a logit bias or the penalties may lower (the biased
    // ids, penalty_last_n) when those only lower logits (bias <= 0, repeat penalty >= 1, frequency
    // and presence penalties >= 0); 0 (the whole row) when top-k is off, a bias or a penalty may
    // raise a token, or a stage was added. A caller may then find just those where the logits are
    // (Session::decode_top: on a GPU, only they cross to the host) and pass them to sample_top.
    int candidates_needed() const { return candidates_; }
    // sample() from the row's most likely tokens only, most likely first (as Model::forward_top
    // gives them), at least candidates_needed() of them (fewer only when the vocabulary is).
    int32_t sample_top(std::span<const int32_t> ids, std::span<const float> logits, std::span<const int32_t> history);

private:
    // The stages and the greedy pick or the draw, over the candidates they narrow.
    int32_t choose(TokenCandidates& candidates, std::span<const int32_t> history);
    std::vector<std::unique_ptr<SamplerStage>> stages_;
    bool greedy_;
    int candidates_ = 0;
    std::mt19937_64 rng_;
};

// Index of the largest logit (the first one on ties), as torch.argmax.
int32_t argmax(std::span<const float> logits);

}  // namespace slm
