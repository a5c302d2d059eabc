// RuntimeBackend: the Scheduler's batches run through Model::forward over one multi-sequence
// KvCache; samplers are SamplerChains, with the JSON grammar stage in front when requested.
#include "server/runtime_backend.h"

#include <slm/generator.h>

#include <algorithm>
#include <limits>
#include <random>

namespace slm::server {

RuntimeBackend::RuntimeBackend(const Model& model, const Tokenizer& tokenizer, int n_ctx, int n_seq, int threads,
                               std::vector<LoraUse> adapters)
    : model_(model), tokenizer_(tokenizer), cache_(model, n_ctx, n_seq, DType::f16), pool_(threads),
      adapters_(std::move(adapters)) {
    end_ids_ = end_of_generation_ids(model, tokenizer);
}

const LoraStack* RuntimeBackend::stack_for(const AdapterSet& set) {
    if (set.empty()) return nullptr;
    for (const auto& [key, stack] : stacks_)
        if (key == set) return &stack;
    // Requests may ask for any scales; a few sets are in use at a time, so keep only the latest.
    constexpr size_t kept = 16;
    if (stacks_.size() >= kept) stacks_.erase(stacks_.begin());
    std::vector<LoraUse> uses;
    for (const auto& [id, scale] : set.entries()) {
        LoraUse use = adapters_.at(size_t(id));
        use.scale = scale;
        uses.push_back(std::move(use));
    }
    stacks_.emplace_back(set, LoraStack(model_, std::move(uses)));
    return &stacks_.back().second;
}

void RuntimeBackend::forward(std::span<const BatchEntry> batch, const AdapterSet& adapters, std::vector<float>& logits) {
    const LoraStack* stack = stack_for(adapters);
    batch_.clear();
    for (const auto& e : batch) batch_.add(e.token, e.pos, e.seq, e.logits);
    model_.forward(batch_, cache_, logits, &pool_, nullptr, stack);
}

void RuntimeBackend::forward_top(std::span<const BatchEntry> batch, const AdapterSet& adapters, int k,
                                 TopTokens& top) {
    const LoraStack* stack = stack_for(adapters);
    batch_.clear();
    for (const auto& e : batch) batch_.add(e.token, e.pos, e.seq, e.logits);
    model_.forward_top(batch_, cache_, k, top, &pool_, stack);
}

void RuntimeBackend::for_each_row(size_t n, const std::function<void(size_t)>& fn) {
    pool_.parallel_for(int64_t(n), [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) fn(size_t(i));
    });
}

std::vector<float> RuntimeBackend::embed(std::span<const int32_t> tokens, const AdapterSet& adapters) {
    const LoraStack* stack = stack_for(adapters);
    // A scratch cache of one sequence, so the generation sequences are untouched.
    KvCache scratch(model_, int(tokens.size()), 1, DType::f32);
    const size_t D = size_t(model_.config().hidden_size);
    std::vector<double> sum(D, 0.0);
    std::vector<float> logits, hidden;
    constexpr size_t chunk = 256;
    for (size_t begin = 0; begin < tokens.size(); begin += chunk) {
        const size_t end = std::min(tokens.size(), begin + chunk);
        batch_.clear();
        for (size_t i = begin; i < end; ++i) batch_.add(tokens[i], int32_t(i), 0, true);
        model_.forward(batch_, scratch, logits, &pool_, &hidden, stack);
        for (size_t r = 0; r < end - begin; ++r)
            for (size_t d = 0; d < D; ++d) sum[d] += hidden[r * D + d];
    }
    std::vector<float> mean(D);
    for (size_t d = 0; d < D; ++d) mean[d] = float(sum[d] / double(tokens.size()));
    return mean;
}

bool RuntimeBackend::is_end_of_generation(int32_t token) const {
    return std::find(end_ids_.begin(), end_ids_.end(), token) != end_ids_.end();
}

namespace {

class TokenizerPieceDecoder : public PieceDecoder {
public:
    explicit TokenizerPieceDecoder(const Tokenizer& tokenizer) : decoder_(tokenizer, /*skip_special=*/true) {}
    std::string push(int32_t token) override { return decoder_.push(token); }
    std::string flush() override { return decoder_.flush(); }

private:
    StreamingDecoder decoder_;
};

class ChainSampler : public TokenSampler {
public:
    ChainSampler(const SamplerParams& params, std::shared_ptr<const JsonGrammar> grammar) : chain_(params) {
        if (grammar) grammar_ = std::make_unique<JsonGrammarStage>(std::move(grammar));
    }
    void accept_prompt(std::span<const int32_t> tokens) override { history_.assign(tokens.begin(), tokens.end()); }
    int32_t sample(std::span<float> logits) override {
        // The grammar runs first, on the whole vocabulary: the chain's own stages (top-k, top-p)
        // then choose among valid tokens only, and there is always one to choose.
        if (grammar_) {
            TokenCandidates all;
            all.items.reserve(logits.size());
            for (size_t i = 0; i < logits.size(); ++i) all.items.push_back({int32_t(i), logits[i], 0.0f});
            grammar_->apply(all, history_);
            std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
            for (const auto& c : all.items) logits[size_t(c.id)] = c.logit;
        }
        return accept(chain_.sample(logits, history_));
    }
    // The grammar reads the whole vocabulary; the chain alone may need only its top.
    int candidates_needed() const override { return grammar_ ? 0 : chain_.candidates_needed(); }
    int32_t sample_top(std::span<const int32_t> ids, std::span<const float> logits) override {
        return accept(chain_.sample_top(ids, logits, history_));
    }
    bool constraint_complete() const override { return grammar_ && grammar_->complete(); }

private:
    int32_t accept(int32_t token) {
        history_.push_back(token);
        if (grammar_) grammar_->accept(token);
        return token;
    }
    SamplerChain chain_;
    std::unique_ptr<JsonGrammarStage> grammar_;
    std::vector<int32_t> history_;
};

}  // namespace

void JsonGrammarStage::apply(TokenCandidates& candidates, std::span<const int32_t>) {
    // Mask over a dense row, then keep the candidates that survived.
    const size_t vocab = matcher_.vocabulary_size();
    std::vector<float> row(vocab, -std::numeric_limits<float>::infinity());
    for (const auto& c : candidates.items)
        if (c.id >= 0 && size_t(c.id) < vocab) row[size_t(c.id)] = c.logit;
    matcher_.mask(row);
    std::erase_if(candidates.items, [&](const TokenCandidate& c) {
        return c.id < 0 || size_t(c.id) >= vocab || row[size_t(c.id)] == -std::numeric_limits<float>::infinity();
    });
}

std::unique_ptr<PieceDecoder> RuntimeBackend::new_decoder() const {
    return std::make_unique<TokenizerPieceDecoder>(tokenizer_);
}

std::unique_ptr<TokenSampler> RuntimeBackend::new_sampler(const SamplingParams& p) const {
    SamplerParams params;
    params.temperature = p.temperature;
    params.top_k = p.top_k;
    params.top_p = p.top_p;
    params.min_p = p.min_p;
    params.typical_p = 1.0f;
    params.repeat_penalty = p.repeat_penalty;
    params.frequency_penalty = p.frequency_penalty;
    params.presence_penalty = p.presence_penalty;
    params.penalty_last_n = p.penalty_last_n;
    for (const auto& [id, bias] : p.logit_bias) params.logit_bias[id] = bias;
    params.seed = p.seed ? *p.seed : std::random_device{}() * 0x9e3779b97f4a7c15ULL + std::random_device{}();
    return std::make_unique<ChainSampler>(params, p.json);
}

}  // namespace slm::server
