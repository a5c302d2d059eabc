// Session: prompt processing in chunks with common-prefix reuse, one-token decode, and the
// context-full check, over a Model and its KvCache.
#include <slm/error.h>
#include <slm/session.h>

#include <algorithm>

namespace slm {

namespace {

constexpr int kDefaultContextCap = 4096;

int model_context(const ModelConfig& c) { return c.max_position > 0 ? c.max_position : kDefaultContextCap; }
int default_context(const ModelConfig& c) { return std::min(model_context(c), kDefaultContextCap); }

}  // namespace

Session::Session(const Model& model, const SessionOptions& options)
    : model_(model),
      pool_(options.threads),
      cache_(model, options.n_ctx > 0 ? options.n_ctx : default_context(model.config()), options.n_seq,
             options.kv_dtype),
      n_batch_(std::max(1, options.n_batch)),
      adapters_(options.adapters),
      tokens_(size_t(std::max(1, options.n_seq))) {}

const std::vector<int32_t>& Session::tokens(int seq) const {
    if (seq < 0 || seq >= int(tokens_.size())) fail("session: sequence {} is out of range", seq);
    return tokens_[size_t(seq)];
}

void Session::clear(int seq) {
    cache_.truncate(seq, 0);
    tokens_.at(size_t(seq)).clear();
}

void Session::check_fits(int seq, size_t n_new) const {
    const size_t total = tokens(seq).size() + n_new;
    if (total > size_t(n_ctx()))
        fail("context is full: {} tokens do not fit in the context of {} tokens (raise --ctx, up to the model's {})", total,
             n_ctx(), model_context(model_.config()));
}

void Session::note_tokens(const Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) tokens_[size_t(batch.seq_ids[i])].push_back(batch.tokens[i]);
}

const std::vector<float>& Session::forward(const Batch& batch) {
    model_.forward(batch, cache_, logits_, &pool_, nullptr, &adapters_);
    note_tokens(batch);
    return logits_;
}

const TopTokens& Session::forward_top(const Batch& batch, int k) {
    model_.forward_top(batch, cache_, k, top_, &pool_, &adapters_);
    note_tokens(batch);
    return top_;
}

void Session::stage_prompt(std::span<const int32_t> tokens, int seq) {
    if (tokens.empty()) fail("session: empty prompt");
    std::vector<int32_t>& held = tokens_.at(size_t(seq));
    // Keep the common prefix, but always recompute at least the last token: its logits are the result.
    size_t keep = 0;
    const size_t max_keep = std::min(held.size(), tokens.size() - 1);
    while (keep < max_keep && held[keep] == tokens[keep]) ++keep;
    cache_.truncate(seq, int(keep));
    held.resize(keep);
    reused_ = int(keep);
    check_fits(seq, tokens.size() - keep);

    for (size_t begin = keep;; begin += size_t(n_batch_)) {
        const size_t end = std::min(tokens.size(), begin + size_t(n_batch_));
        batch_.clear();
        for (size_t i = begin; i < end; ++i) batch_.add(tokens[i], int32_t(i), seq, i + 1 == tokens.size());
        if (end == tokens.size()) return;
        forward(batch_);
    }
}

std::span<const float> Session::prompt(std::span<const int32_t> tokens, int seq) {
    stage_prompt(tokens, seq);
    forward(batch_);
    return {logits_.data(), logits_.size()};
}

const TopTokens& Session::prompt_top(std::span<const int32_t> tokens, int k, int seq) {
    stage_prompt(tokens, seq);
    return forward_top(batch_, k);
}

void Session::stage_decode(int32_t token, int seq) {
    check_fits(seq, 1);
    batch_.clear();
    batch_.add(token, int32_t(tokens(seq).size()), seq, true);
}

std::span<const float> Session::decode(int32_t token, int seq) {
    stage_decode(token, seq);
    forward(batch_);
    return {logits_.data(), logits_.size()};
}

const TopTokens& Session::decode_top(int32_t token, int k, int seq) {
    stage_decode(token, seq);
    return forward_top(batch_, k);
}

}  // namespace slm
