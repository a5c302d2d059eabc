// SamplerChain: greedy is argmax, each stage does what it says on hand-made logits, a seed
// reproduces a draw exactly, and generation_config.json defaults map to the chain.
#include <slm/error.h>
#include <slm/kernels.h>
#include <slm/sampler.h>

#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <random>

namespace slm {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, -1.0f, 2.5f, 0.0f};

SamplerParams plain() {
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

std::map<int32_t, int> histogram(SamplerChain& chain, std::span<const float> logits, int n,
                                 std::span<const int32_t> history = {}) {
    std::map<int32_t, int> h;
    for (int i = 0; i < n; ++i) ++h[chain.sample(logits, history)];
    return h;
}

TEST(Sampler, GreedyIsArgmaxFirstOnTies) {
    SamplerParams p;
    p.temperature = 0;
    SamplerChain chain(p);
    EXPECT_TRUE(chain.greedy());
    EXPECT_EQ(chain.sample(kLogits, {}), 1);
    const std::vector<float> tie = {0.5f, 2.0f, 2.0f};
    EXPECT_EQ(chain.sample(tie, {}), 1);
}

TEST(Sampler, TopKOneIsGreedy) {
    SamplerParams p = plain();
    p.top_k = 1;
    SamplerChain chain(p);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(chain.sample(kLogits, {}), 1);
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
    SamplerParams p = plain();
    p.top_k = 3;
    SamplerChain chain(p);
    for (const auto& [id, n] : histogram(chain, kLogits, 500)) EXPECT_TRUE(id == 1 || id == 4 || id == 2) << id;
}

TEST(Sampler, TopPKeepsTheNucleus) {
    // softmax of kLogits: p(1)=0.49, p(4)=0.30, p(2)=0.18, ... top-p 0.7 keeps {1, 4}.
    SamplerParams p = plain();
    p.top_p = 0.7f;
    SamplerChain chain(p);
    const auto h = histogram(chain, kLogits, 1000);
    EXPECT_EQ(h.size(), 2u);
    EXPECT_TRUE(h.count(1) && h.count(4));
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
    // min-p 0.5: keep tokens with p >= 0.5 * p(1): token 4 (ratio 0.61) stays, token 2 (0.37) goes.
    SamplerParams p = plain();
    p.min_p = 0.5f;
    SamplerChain chain(p);
    const auto h = histogram(chain, kLogits, 1000);
    EXPECT_EQ(h.size(), 2u);
}

TEST(Sampler, DrawFollowsTheDistribution) {
    SamplerChain chain(plain());
    const int n = 20000;
    const auto h = histogram(chain, kLogits, n);
    double z = 0;
    for (float l : kLogits) z += std::exp(l);
    for (size_t i = 0; i < kLogits.size(); ++i) {
        const double expected = std::exp(kLogits[i]) / z;
        const double got = h.count(int32_t(i)) ? double(h.at(int32_t(i))) / n : 0.0;
        EXPECT_NEAR(got, expected, 0.015) << "token " << i;
    }
}

TEST(Sampler, LowTemperatureSharpens) {
    SamplerParams p = plain();
    p.temperature = 0.1f;
    SamplerChain chain(p);
    const auto h = histogram(chain, kLogits, 1000);
    EXPECT_GT(h.at(1), 980);
}

TEST(Sampler, SameSeedSameDraws) {
    SamplerParams p = plain();
    p.seed = 1;
    SamplerChain a(p), b(p);
    std::vector<int32_t> da, db;
    for (int i = 0; i < 200; ++i) {
        da.push_back(a.sample(kLogits, {}));
        db.push_back(b.sample(kLogits, {}));
    }
    EXPECT_EQ(da, db);
    p.seed = 2;
    SamplerChain c(p);
    std::vector<int32_t> dc;
    for (int i = 0; i < 200; ++i) dc.push_back(c.sample(kLogits, {}));
    EXPECT_NE(da, dc);
}

// The draw walks candidates from the most likely down without sorting the whole vocabulary; it
// must pick what a walk over a fully (stably) sorted list picks, for flat and peaked
// distributions, with ties, and where the walk goes past the first selected blocks.
TEST(Sampler, DrawEqualsAWalkOverTheSortedVocabulary) {
    std::mt19937 gen(7);
    for (const float scale : {0.01f, 1.0f, 8.0f}) {
        std::vector<float> logits(5000);
        std::normal_distribution<float> normal(0.0f, scale);
        for (float& l : logits) l = std::round(normal(gen) * 64.0f) / 64.0f;  // many exact ties
        SamplerParams p = plain();
        p.seed = 11;
        p.temperature = 0.7f;
        SamplerChain chain(p);
        std::mt19937_64 rng(11);
        std::vector<size_t> order(logits.size());
        std::iota(order.begin(), order.end(), size_t(0));
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logits[a] > logits[b]; });
        const float max = logits[order[0]] / 0.7f;
        double sum = 0;
        for (size_t i : order) sum += std::exp(logits[i] / 0.7f - max);
        for (int draw = 0; draw < 300; ++draw) {
            const double u = double(rng() >> 11) * 0x1.0p-53;
            double cum = 0;
            int32_t expected = int32_t(order.back());
            for (size_t i : order) {
                cum += float(std::exp(logits[i] / 0.7f - max) / sum);
                if (u < cum) {
                    expected = int32_t(i);
                    break;
                }
            }
            ASSERT_EQ(chain.sample(logits, {}), expected) << "scale " << scale << " draw " << draw;
        }
    }
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
    // Token 1 (logit 3) seen: 3 / 2 = 1.5 < 2.5, so greedy moves to token 4.
    SamplerParams p;
    p.temperature = 0;
    p.repeat_penalty = 2.0f;
    SamplerChain chain(p);
    const std::vector<int32_t> history = {1};
    EXPECT_EQ(chain.sample(kLogits, history), 4);
    // Outside the window the penalty does not apply.
    p.penalty_last_n = 1;
    SamplerChain windowed(p);
    const std::vector<int32_t> old = {1, 3};
    EXPECT_EQ(windowed.sample(kLogits, old), 1);
}

TEST(Sampler, FrequencyAndPresencePenalties) {
    SamplerParams p;
    p.temperature = 0;
    p.frequency_penalty = 0.3f;  // token 1 seen twice: 3 - 0.6 = 2.4 < 2.5
    SamplerChain freq(p);
    const std::vector<int32_t> twice = {1, 1};
    EXPECT_EQ(freq.sample(kLogits, twice), 4);
    const std::vector<int32_t> once = {1};
    EXPECT_EQ(freq.sample(kLogits, once), 1);  // 2.7 > 2.5
    p.frequency_penalty = 0;
    p.presence_penalty = 0.6f;
    SamplerChain presence(p);
    EXPECT_EQ(presence.sample(kLogits, once), 4);
}

TEST(Sampler, LogitBiasCanBanAndForce) {
    SamplerParams p;
    p.temperature = 0;
    p.logit_bias[1] = -INFINITY;
    SamplerChain ban(p);
    EXPECT_EQ(ban.sample(kLogits, {}), 4);
    p.logit_bias = {{5, 10.0f}};
    SamplerChain force(p);
    EXPECT_EQ(force.sample(kLogits, {}), 5);
}

TEST(Sampler, TypicalKeepsTokensNearTheEntropy) {
    // Two equally likely tokens far above the rest: both have surprise ~ entropy, so they stay.
    const std::vector<float> logits = {5.0f, 5.0f, -5.0f, -5.0f};
    SamplerParams p = plain();
    p.typical_p = 0.5f;
    SamplerChain chain(p);
    const auto h = histogram(chain, logits, 500);
    EXPECT_FALSE(h.count(2) || h.count(3));
}

TEST(Sampler, GenerationDefaultsMapToTheChain) {
    GenerationDefaults d;
    d.do_sample = true;
    d.temperature = 0.8;
    d.top_p = 0.95;
    SamplerParams p = SamplerParams::from_generation_defaults(d);
    EXPECT_FLOAT_EQ(p.temperature, 0.8f);
    EXPECT_FLOAT_EQ(p.top_p, 0.95f);
    EXPECT_EQ(p.top_k, 50);  // transformers' default
    EXPECT_FLOAT_EQ(p.min_p, 0.0f);
    d.do_sample = false;
    EXPECT_LE(SamplerParams::from_generation_defaults(d).temperature, 0.0f);
}

// A stage added to the chain (as a grammar constraint would be) runs before the draw.
class OnlyEvenTokens : public SamplerStage {
public:
    std::string name() const override { return "only-even"; }
    void apply(TokenCandidates& c, std::span<const int32_t>) override {
        std::erase_if(c.items, [](const TokenCandidate& t) { return t.id % 2 != 0; });
    }
};

TEST(Sampler, CustomStageConstrainsTheDraw) {
    SamplerParams p;
    p.temperature = 0;
    SamplerChain chain(p);
    EXPECT_EQ(chain.candidates_needed(), 1);
    chain.add_stage(std::make_unique<OnlyEvenTokens>());
    EXPECT_EQ(chain.candidates_needed(), 0);  // a constraint may reject every likely token
    EXPECT_EQ(chain.sample(kLogits, {}), 4);
}

// Which chains can draw from the most likely tokens alone: greedy, or top-k, with as many more as
// a bias or the penalties may push down from above; not once one may lift a token from below, nor
// without a top-k.
TEST(Sampler, CandidatesNeededOnlyWhereTheMostLikelyTokensDecide) {
    SamplerParams greedy;
    greedy.temperature = 0;
    EXPECT_EQ(SamplerChain(greedy).candidates_needed(), 1);
    SamplerParams defaults;  // top_k 40, then top-p, min-p, temperature
    EXPECT_EQ(SamplerChain(defaults).candidates_needed(), 40);
    EXPECT_EQ(SamplerChain(plain()).candidates_needed(), 0);
    SamplerParams penalized = defaults;  // ollama's defaults: repeat penalty 1.1 over 64 tokens
    penalized.repeat_penalty = 1.1f;
    EXPECT_EQ(SamplerChain(penalized).candidates_needed(), 40 + 64);
    penalized.frequency_penalty = 0.5f;
    penalized.presence_penalty = 0.25f;
    penalized.penalty_last_n = 16;
    EXPECT_EQ(SamplerChain(penalized).candidates_needed(), 40 + 16);
    for (auto raise : std::vector<std::function<void(SamplerParams&)>>{
             [](SamplerParams& q) { q.repeat_penalty = 0.9f; }, [](SamplerParams& q) { q.frequency_penalty = -0.5f; },
             [](SamplerParams& q) { q.presence_penalty = -0.5f; }, [](SamplerParams& q) { q.penalty_last_n = -1; }}) {
        SamplerParams q = penalized;
        raise(q);
        EXPECT_EQ(SamplerChain(q).candidates_needed(), 0);
    }
    SamplerParams banned = greedy;
    banned.logit_bias[3] = -std::numeric_limits<float>::infinity();
    banned.logit_bias[4] = -2.0f;
    EXPECT_EQ(SamplerChain(banned).candidates_needed(), 1 + 2);
    SamplerParams biased = greedy;
    biased.logit_bias[3] = 5.0f;
    EXPECT_EQ(SamplerChain(biased).candidates_needed(), 0);
    SamplerParams huge = penalized;  // a top-k of any size: the count saturates, never wraps
    huge.top_k = std::numeric_limits<int>::max();
    EXPECT_EQ(SamplerChain(huge).candidates_needed(), std::numeric_limits<int>::max());
    SamplerChain chain(plain());
    EXPECT_THROW(chain.sample_top(std::vector<int32_t>{1}, std::vector<float>{3.0f}, {}), Error);
}

// sample_top over the candidates kernels::top_k finds draws what sample draws over the whole
// row, draw for draw with the same seed, for greedy and for top-k chains with every later stage.
TEST(Sampler, SampleTopDrawsWhatSampleDraws) {
    std::mt19937 gen(5);
    std::normal_distribution<float> normal(0.0f, 2.5f);
    std::vector<float> logits(3000);
    for (float& l : logits) l = normal(gen);
    // A history of the 40 most likely tokens, several times over, so that penalties push the
    // head of the row down and tokens from below the first top_k take their places.
    std::vector<int32_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[size_t(a)] > logits[size_t(b)]; });
    std::vector<int32_t> history;
    for (int i = 0; i < 64; ++i) history.push_back(order[size_t(i % 40)]);
    std::vector<SamplerParams> chains(9);
    chains[0].temperature = 0;
    chains[1].top_k = 40;  // the defaults: top-p 0.95, min-p 0.05, temperature 0.8
    chains[2].top_k = 128;
    chains[2].min_p = 0.0f;
    chains[2].top_p = 1.0f;
    chains[2].temperature = 1.5f;
    chains[3].top_k = 20;
    chains[3].typical_p = 0.9f;
    chains[4].top_k = 5000;  // more than the vocabulary: all of it
    chains[5].repeat_penalty = 1.3f;  // ollama's defaults, penalty stronger
    chains[6].temperature = 0;
    chains[6].repeat_penalty = 2.0f;
    chains[6].frequency_penalty = 1.0f;
    chains[6].presence_penalty = 0.5f;
    chains[6].penalty_last_n = 64;
    chains[7].top_k = 10;
    chains[7].repeat_penalty = 5.0f;  // the whole head pushed below the next 40
    chains[7].logit_bias = {{order[45], -100.0f}, {order[46], -std::numeric_limits<float>::infinity()}};
    chains[8].temperature = 0;
    chains[8].logit_bias = {{order[0], -std::numeric_limits<float>::infinity()}, {order[1], -50.0f}};
    for (size_t c = 0; c < chains.size(); ++c) {
        chains[c].seed = 100 + c;
        SamplerChain full(chains[c]), top(chains[c]);
        const int k = std::min<int>(top.candidates_needed(), int(logits.size()));
        ASSERT_GT(k, 0) << "chain " << c;
        std::vector<int32_t> ids(static_cast<size_t>(k));
        std::vector<float> values(static_cast<size_t>(k));
        kernels::top_k(logits.data(), 1, int64_t(logits.size()), k, ids.data(), values.data());
        for (int draw = 0; draw < 200; ++draw)
            ASSERT_EQ(top.sample_top(ids, values, history), full.sample(logits, history))
                << "chain " << c << ", draw " << draw;
    }
}

}  // namespace
}  // namespace slm
