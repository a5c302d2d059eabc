// The sampler stages (logit bias, penalties, top-k, typical, top-p, min-p, temperature), the
// chain that runs them, and the seeded draw. Stage semantics follow llama.cpp's samplers, which
// agree with transformers' logits processors for each stage on its own.
#include <slm/error.h>
#include <slm/sampler.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>

namespace slm {

void TokenCandidates::sort_descending() {
    if (sorted) return;
    std::stable_sort(items.begin(), items.end(), [](const TokenCandidate& a, const TokenCandidate& b) { return a.logit > b.logit; });
    sorted = true;
}

void TokenCandidates::softmax() {
    sort_descending();
    if (items.empty()) return;
    const float max_logit = items.front().logit;
    double sum = 0;
    for (TokenCandidate& c : items) sum += (c.p = std::exp(c.logit - max_logit));
    for (TokenCandidate& c : items) c.p = float(c.p / sum);
}

int32_t argmax(std::span<const float> logits) {
    return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

namespace {

// Beyond this many tokens that a bias or penalty may lower, candidates_needed() would pass any
// caller's bound anyway (Model's kMaxTopTokens is 128); capping keeps the sum from overflowing.
constexpr int kMaxLoweredTokens = 1 << 20;

class LogitBiasStage : public SamplerStage {
public:
    explicit LogitBiasStage(std::unordered_map<int32_t, float> bias) : bias_(std::move(bias)) {}
    std::string name() const override { return "logit-bias"; }
    void apply(TokenCandidates& cands, std::span<const int32_t>) override {
        for (TokenCandidate& c : cands.items)
            if (auto it = bias_.find(c.id); it != bias_.end()) c.logit += it->second;
        cands.sorted = false;
    }

private:
    std::unordered_map<int32_t, float> bias_;
};

// Repetition (divide positive / multiply negative logits), frequency and presence penalties over
// the last `last_n` tokens of the history.
class PenaltiesStage : public SamplerStage {
public:
    PenaltiesStage(float repeat, float frequency, float presence, int last_n)
        : repeat_(repeat), frequency_(frequency), presence_(presence), last_n_(last_n) {}
    std::string name() const override { return "penalties"; }
    void apply(TokenCandidates& cands, std::span<const int32_t> history) override {
        const size_t n = last_n_ < 0 ? history.size() : std::min(history.size(), size_t(last_n_));
        std::unordered_map<int32_t, int> counts;
        for (int32_t id : history.subspan(history.size() - n)) ++counts[id];
        if (counts.empty()) return;
        for (TokenCandidate& c : cands.items) {
            const auto it = counts.find(c.id);
            if (it == counts.end()) continue;
            c.logit = c.logit > 0 ? c.logit / repeat_ : c.logit * repeat_;
            c.logit -= float(it->second) * frequency_ + presence_;
        }
        cands.sorted = false;
    }

private:
    float repeat_, frequency_, presence_;
    int last_n_;
};

class TopKStage : public SamplerStage {
public:
    explicit TopKStage(int k) : k_(k) {}
    std::string name() const override { return "top-k"; }
    void apply(TokenCandidates& cands, std::span<const int32_t>) override {
        const size_t k = std::min(cands.items.size(), size_t(k_));
        if (k == cands.items.size() && cands.sorted) return;
        std::partial_sort(cands.items.begin(), cands.items.begin() + ptrdiff_t(k), cands.items.end(),
                          [](const TokenCandidate& a, const TokenCandidate& b) { return a.logit > b.logit; });
        cands.items.resize(k);
        cands.sorted = true;
    }

private:
    int k_;
};

// Keeps the smallest set of most likely tokens whose probability reaches p (at least one).
class TopPStage : public SamplerStage {
public:
    explicit TopPStage(float p) : p_(p) {}
    std::string name() const override { return "top-p"; }
    void apply(TokenCandidates& cands, std::span<const int32_t>) override {
        cands.softmax();
        double cum = 0;
        size_t keep = cands.items.size();
        for (size_t i = 0; i < cands.items.size(); ++i) {
            cum += cands.items[i].p;
            if (cum >= p_) {
                keep = i + 1;
                break;
            }
        }
        cands.items.resize(std::max<size_t>(1, keep));
    }

private:
    float p_;
};

// Keeps tokens whose probability is at least min_p times the top token's.
class MinPStage : public SamplerStage {
public:
    explicit MinPStage(float p) : p_(p) {}
    std::string name() const override { return "min-p"; }
    void apply(TokenCandidates& cands, std::span<const int32_t>) override {
        cands.softmax();
        if (cands.items.empty()) return;
        const float threshold = cands.items.front().p * p_;
        size_t keep = 1;
        while (keep < cands.items.size() && cands.items[keep].p >= threshold) ++keep;
        cands.items.resize(keep);
    }

private:
    float p_;
};

// Locally typical sampling (Meister et al.): keeps the tokens whose surprise is closest to the
// distribution's entropy, up to total probability p.
class TypicalStage : public SamplerStage {
public:
    explicit TypicalStage(float p) : p_(p) {}
    std::string name() const override { return "typical"; }
    void apply(TokenCandidates& cands, std::span<const int32_t>) override {
        cands.softmax();
        double entropy = 0;
        for (const TokenCandidate& c : cands.items)
            if (c.p > 0) entropy -= double(c.p) * std::log(double(c.p));
        std::vector<size_t> order(cands.items.size());
        std::iota(order.begin(), order.end(), size_t(0));
        auto deviation = [&](size_t i) { return std::abs(-std::log(double(cands.items[i].p)) - entropy); };
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return deviation(a) < deviation(b); });
        double cum = 0;
        size_t keep = order.size();
        for (size_t i = 0; i < order.size(); ++i) {
            cum += cands.items[order[i]].p;
            if (cum > p_) {
                keep = i + 1;
                break;
            }
        }
        std::vector<TokenCandidate> kept;
        for (size_t i = 0; i < std::max<size_t>(1, keep); ++i) kept.push_back(cands.items[order[i]]);
        cands.items = std::move(kept);
        cands.sorted = false;
    }

private:
    float p_;
};

class TemperatureStage : public SamplerStage {
public:
    explicit TemperatureStage(float t) : t_(t) {}
    std::string name() const override { return "temperature"; }
    void apply(TokenCandidates& cands, std::span<const int32_t>) override {
        for (TokenCandidate& c : cands.items) c.logit /= t_;
    }

private:
    float t_;
};

// The token where the cumulative probability, walking candidates from the most likely down,
// first exceeds u. The walk usually ends within the first few dozen tokens, so instead of
// sorting the whole vocabulary (most of a decode step's time on a small model) the next most
// likely block is selected (nth_element) and sorted only when the walk gets there, in blocks
// of doubling size. The order is a stable sort's: logit descending, then position.
int32_t draw_in_descending_order(TokenCandidates& cands, double u) {
    auto& items = cands.items;
    if (cands.sorted) {
        cands.softmax();
        double cum = 0;
        for (const TokenCandidate& c : items) {
            cum += c.p;
            if (u < cum) return c.id;
        }
        return items.back().id;
    }
    float max_logit = -std::numeric_limits<float>::infinity();
    for (const TokenCandidate& c : items) max_logit = std::max(max_logit, c.logit);
    double sum = 0;
    for (TokenCandidate& c : items) sum += (c.p = std::exp(c.logit - max_logit));
    // The order as one integer key per candidate, descending: the logit's bits made monotone
    // (high half), then the position inverted (low half) so that ties keep position order.
    // Selecting plain integers is several times faster than through a two-field comparator.
    auto monotone = [](float f) {
        if (f == 0.0f) f = 0.0f;  // -0 ties with +0, as in the float comparison
        uint32_t bits;
        std::memcpy(&bits, &f, sizeof bits);
        return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
    };
    std::vector<uint64_t> keys(items.size());
    for (size_t i = 0; i < items.size(); ++i) keys[i] = uint64_t(monotone(items[i].logit)) << 32 | (0xFFFFFFFFu - uint32_t(i));
    auto position = [](uint64_t key) { return size_t(0xFFFFFFFFu - uint32_t(key)); };
    // The keys in the top bins of a histogram of their 12 highest bits (at least 32 keys) are
    // moved to the front: the walk starts there, and a selection over the whole vocabulary
    // (branchy, most of the draw's time) is needed only if it gets past them.
    constexpr int kBinBits = 12;
    std::array<uint32_t, size_t(1) << kBinBits> histogram{};
    for (uint64_t key : keys) ++histogram[key >> (64 - kBinBits)];
    size_t in_top_bins = 0;
    uint64_t bin = histogram.size() - 1;
    for (; bin > 0; --bin)
        if ((in_top_bins += histogram[bin]) >= 32) break;
    const uint64_t threshold = bin << (64 - kBinBits);
    const size_t n_top = size_t(std::partition(keys.begin(), keys.end(), [&](uint64_t k) { return k >= threshold; }) - keys.begin());
    double cum = 0;
    for (auto [begin, end] : {std::pair<size_t, size_t>{0, n_top}, {n_top, keys.size()}}) {
        const auto part_end = keys.begin() + ptrdiff_t(end);
        for (size_t done = begin, block = 32; done < end; done += block, block *= 2) {
            const auto first = keys.begin() + ptrdiff_t(done);
            const auto last = keys.begin() + ptrdiff_t(std::min(end, done + block));
            if (last != part_end) std::nth_element(first, last, part_end, std::greater<>());
            std::sort(first, last, std::greater<>());
            for (auto it = first; it != last; ++it) {
                const TokenCandidate& c = items[position(*it)];
                cum += float(c.p / sum);
                if (u < cum) return c.id;
            }
        }
    }
    return items[position(keys.back())].id;  // both parts are sorted by now
}

}  // namespace

SamplerParams SamplerParams::from_generation_defaults(const GenerationDefaults& d) {
    SamplerParams p;
    // transformers' defaults where the model's file is silent: top_k 50, top_p 1, temperature 1.
    if (d.do_sample || d.temperature || d.top_p || d.top_k) {
        p.temperature = float(d.temperature.value_or(1.0));
        p.top_k = d.top_k.value_or(50);
        p.top_p = float(d.top_p.value_or(1.0));
        p.min_p = float(d.min_p.value_or(0.0));
        p.typical_p = float(d.typical_p.value_or(1.0));
    }
    if (d.repetition_penalty) p.repeat_penalty = float(*d.repetition_penalty);
    if (d.do_sample && !*d.do_sample) p.temperature = 0.0f;
    return p;
}

SamplerChain::SamplerChain(const SamplerParams& p) : greedy_(p.temperature <= 0.0f), rng_(p.seed) {
    // Bias and penalties that only lower logits, and only of the tokens they name (the biased ids,
    // at most penalty_last_n of the history), leave the k most likely tokens among the k + that
    // many most likely before them: a token below those has k unnamed ones above it still.
    bool only_lowered = true;
    int named = 0;
    if (!p.logit_bias.empty()) {
        stages_.push_back(std::make_unique<LogitBiasStage>(p.logit_bias));
        for (const auto& [id, bias] : p.logit_bias) only_lowered = only_lowered && bias <= 0.0f;
        named += int(std::min<size_t>(p.logit_bias.size(), size_t(kMaxLoweredTokens)));
    }
    if (p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f) {
        if (p.repeat_penalty <= 0.0f) fail("sampler: repeat penalty {} must be positive", p.repeat_penalty);
        stages_.push_back(std::make_unique<PenaltiesStage>(p.repeat_penalty, p.frequency_penalty, p.presence_penalty,
                                                           p.penalty_last_n));
        only_lowered = only_lowered && p.repeat_penalty >= 1.0f && p.frequency_penalty >= 0.0f &&
                       p.presence_penalty >= 0.0f && p.penalty_last_n >= 0;
        named += std::min(std::max(p.penalty_last_n, 0), kMaxLoweredTokens);
    }
    if (!only_lowered) named = -1;
    auto candidates = [&](int k) {
        return named < 0 ? 0 : int(std::min<int64_t>(int64_t(k) + named, std::numeric_limits<int>::max()));
    };
    if (greedy_) {  // the largest logit after bias and penalties
        candidates_ = candidates(1);
        return;
    }
    if (p.top_k > 0) {
        candidates_ = candidates(p.top_k);
        stages_.push_back(std::make_unique<TopKStage>(p.top_k));
    }
    if (p.typical_p < 1.0f) stages_.push_back(std::make_unique<TypicalStage>(p.typical_p));
    if (p.top_p < 1.0f) stages_.push_back(std::make_unique<TopPStage>(p.top_p));
    if (p.min_p > 0.0f) stages_.push_back(std::make_unique<MinPStage>(p.min_p));
    if (p.temperature != 1.0f) stages_.push_back(std::make_unique<TemperatureStage>(p.temperature));
}

void SamplerChain::add_stage(std::unique_ptr<SamplerStage> stage) {
    stages_.push_back(std::move(stage));
    candidates_ = 0;  // a constraint may reject any token
}

int32_t SamplerChain::sample(std::span<const float> logits, std::span<const int32_t> history) {
    if (logits.empty()) fail("sampler: empty logits");
    if (stages_.empty() && greedy_) return argmax(logits);
    TokenCandidates cands;
    cands.items.reserve(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) cands.items.push_back({int32_t(i), logits[i], 0.0f});
    return choose(cands, history);
}

int32_t SamplerChain::sample_top(std::span<const int32_t> ids, std::span<const float> logits,
                                 std::span<const int32_t> history) {
    if (candidates_ == 0) fail("sampler: this chain reads every token's logit, not only the most likely ones");
    if (ids.empty() || ids.size() != logits.size()) fail("sampler: {} candidate ids, {} logits", ids.size(), logits.size());
    TokenCandidates cands;
    cands.items.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) cands.items.push_back({ids[i], logits[i], 0.0f});
    cands.sorted = true;  // in the order of a stable sort by logit, as the top-k stage leaves them
    return choose(cands, history);
}

int32_t SamplerChain::choose(TokenCandidates& cands, std::span<const int32_t> history) {
    for (const auto& stage : stages_) stage->apply(cands, history);
    std::erase_if(cands.items, [](const TokenCandidate& c) { return c.logit == -std::numeric_limits<float>::infinity(); });
    if (cands.items.empty()) fail("sampler: every token was excluded (logit bias or constraint)");
    if (greedy_) {  // the first largest, as a stable sort would put first
        return std::max_element(cands.items.begin(), cands.items.end(),
                                [](const TokenCandidate& a, const TokenCandidate& b) { return a.logit < b.logit; })
            ->id;
    }
    // Draw: a uniform in [0, 1) from the top 53 bits (exactly reproducible for a seed, unlike
    // std::uniform_real_distribution whose algorithm is the library's choice).
    const double u = double(rng_() >> 11) * 0x1.0p-53;
    return draw_in_descending_order(cands, u);
}

}  // namespace slm
