// Session and KV cache: batched prompt processing equals token-by-token, KV-cache decode equals
// a full recompute, prefix reuse equals a fresh run, several sequences share one batch, and a
// full context is a clear error.
#include "testing/testing.h"

#include <slm/error.h>
#include <slm/kernels.h>
#include <slm/model.h>
#include <slm/session.h>

#include <gmock/gmock.h>

#include <algorithm>
#include <cmath>

namespace slm::test {
namespace {

std::unique_ptr<Model> fixture(const std::string& name) { return Model::load(fixtures_dir() + "/models/" + name); }

const std::vector<int32_t> kPrompt = {1, 17, 200, 33, 4, 99, 150, 7, 64, 250, 3, 128, 5, 6, 7};

float max_diff(std::span<const float> a, std::span<const float> b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

SessionOptions options(int n_batch, DType kv = DType::f32) {
    SessionOptions o;
    o.n_batch = n_batch;
    o.kv_dtype = kv;
    o.threads = 1;
    return o;
}

// mistral_swa has a sliding window of 4, so the cache masking past the window is exercised too.
class SessionOnFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(SessionOnFixture, BatchedPromptEqualsTokenByToken) {
    auto model = fixture(GetParam());
    Session batched(*model, options(512)), chunked(*model, options(4)), single(*model, options(1));
    const std::vector<float> a(batched.prompt(kPrompt).begin(), batched.prompt(kPrompt).end());
    std::span<const float> b = chunked.prompt(kPrompt);
    EXPECT_LE(max_diff(a, b), 1e-5f);
    std::span<const float> c = single.prompt(kPrompt);
    EXPECT_LE(max_diff(a, c), 1e-5f);
}

TEST_P(SessionOnFixture, KvCacheDecodeEqualsFullRecompute) {
    auto model = fixture(GetParam());
    Session incremental(*model, options(512));
    std::vector<int32_t> tokens(kPrompt.begin(), kPrompt.begin() + 5);
    std::vector<float> logits(incremental.prompt(tokens).begin(), incremental.prompt(tokens).end());
    for (size_t i = 5; i < kPrompt.size(); ++i) {
        tokens.push_back(kPrompt[i]);
        std::span<const float> decoded = incremental.decode(kPrompt[i]);
        Session fresh(*model, options(512));
        std::span<const float> full = fresh.prompt(tokens);
        EXPECT_LE(max_diff(decoded, full), 1e-5f) << "after " << tokens.size() << " tokens";
    }
}

// The top-k forms return kernels::top_k of the logits the plain forms return, and leave the
// session (tokens, cache, prefix reuse) as the plain forms do.
TEST_P(SessionOnFixture, TopTokensAreTheTopOfTheLogits) {
    auto model = fixture(GetParam());
    Session plain(*model, options(4)), top(*model, options(4));
    const int V = model->vocab_size();
    auto expect_top_of = [&](std::span<const float> logits, const TopTokens& got, int k, const char* what) {
        ASSERT_EQ(got.k, std::min(k, V)) << what;
        ASSERT_EQ(got.rows(), 1u) << what;
        std::vector<int32_t> ids(size_t(got.k));
        std::vector<float> values(size_t(got.k));
        kernels::top_k(logits.data(), 1, V, got.k, ids.data(), values.data());
        EXPECT_EQ(got.ids, ids) << what;
        EXPECT_EQ(got.logits, values) << what;
    };
    for (const int k : {1, 40, kMaxTopTokens}) {
        plain.clear();
        top.clear();
        std::span<const float> logits = plain.prompt(kPrompt);
        expect_top_of(logits, top.prompt_top(kPrompt, k), k, "prompt");
        for (const int32_t token : {5, 77, 200}) {
            logits = plain.decode(token);
            expect_top_of(logits, top.decode_top(token, k), k, "decode");
        }
        EXPECT_EQ(plain.tokens(), top.tokens());
        // A new prompt sharing the prefix reuses the same part of the cache.
        std::vector<int32_t> longer = top.tokens();
        longer.push_back(9);
        logits = plain.prompt(longer);
        expect_top_of(logits, top.prompt_top(longer, k), k, "reused prefix");
        EXPECT_EQ(plain.reused_tokens(), top.reused_tokens());
    }
    EXPECT_THROW(top.decode_top(1, 0), Error);
    EXPECT_THROW(top.decode_top(1, kMaxTopTokens + 1), Error);
}

TEST_P(SessionOnFixture, F16CacheStaysClose) {
    auto model = fixture(GetParam());
    Session f32(*model, options(512)), f16(*model, options(512, DType::f16));
    std::vector<float> a(f32.prompt(kPrompt).begin(), f32.prompt(kPrompt).end());
    std::span<const float> b = f16.prompt(kPrompt);
    float scale = 0;
    for (float v : a) scale = std::max(scale, std::abs(v));
    // f16 keeps 11 significant bits of each key/value: relative error ~5e-4 per entry.
    EXPECT_LE(max_diff(a, b) / scale, 5e-3f);
}

TEST_P(SessionOnFixture, CommonPrefixIsReused) {
    auto model = fixture(GetParam());
    Session reused(*model, options(512));
    const std::vector<int32_t> first(kPrompt.begin(), kPrompt.begin() + 9);
    reused.prompt(first);
    reused.decode(42);
    std::span<const float> again = reused.prompt(kPrompt);
    EXPECT_EQ(reused.reused_tokens(), 9);
    const std::vector<float> got(again.begin(), again.end());
    Session fresh(*model, options(512));
    EXPECT_LE(max_diff(got, fresh.prompt(kPrompt)), 1e-6f);
    EXPECT_EQ(reused.tokens(), kPrompt);
    // The same prompt again: everything but the last token comes from the cache.
    reused.prompt(kPrompt);
    EXPECT_EQ(reused.reused_tokens(), int(kPrompt.size()) - 1);
}

TEST_P(SessionOnFixture, SequencesShareOneBatch) {
    auto model = fixture(GetParam());
    SessionOptions o = options(512);
    o.n_seq = 2;
    Session two(*model, o);
    const std::vector<int32_t> other = {1, 9, 8, 7, 6, 5};
    Batch batch;
    for (size_t i = 0; i < kPrompt.size(); ++i) batch.add(kPrompt[i], int32_t(i), 0, i + 1 == kPrompt.size());
    for (size_t i = 0; i < other.size(); ++i) batch.add(other[i], int32_t(i), 1, i + 1 == other.size());
    const std::vector<float> both = two.forward(batch);
    const size_t V = size_t(model->vocab_size());
    ASSERT_EQ(both.size(), 2 * V);
    Session a(*model, options(512)), b(*model, options(512));
    EXPECT_LE(max_diff(std::span(both).first(V), a.prompt(kPrompt)), 1e-6f);
    EXPECT_LE(max_diff(std::span(both).subspan(V), b.prompt(other)), 1e-6f);
    // Then one decode step for each in one batch.
    batch.clear();
    batch.add(11, int32_t(kPrompt.size()), 0, true);
    batch.add(12, int32_t(other.size()), 1, true);
    const std::vector<float> step = two.forward(batch);
    EXPECT_LE(max_diff(std::span(step).first(V), a.decode(11)), 1e-6f);
    EXPECT_LE(max_diff(std::span(step).subspan(V), b.decode(12)), 1e-6f);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SessionOnFixture, ::testing::Values("llama_gqa_tied", "mistral_swa", "qwen2_bias"));

TEST(Session, FullContextIsAClearError) {
    auto model = fixture("llama");
    SessionOptions o = options(512);
    o.n_ctx = 8;
    Session s(*model, o);
    EXPECT_THAT([&] { s.prompt(kPrompt); },
                ::testing::ThrowsMessage<Error>(::testing::HasSubstr("context is full: 15 tokens do not fit in the context of 8 tokens")));
    s.prompt(std::span(kPrompt).first(8));
    EXPECT_THROW(s.decode(3), Error);
}

TEST(Session, BatchMustContinueTheSequence) {
    auto model = fixture("llama");
    Session s(*model, options(512));
    Batch batch;
    batch.add(5, 3, 0, true);
    EXPECT_THAT([&] { s.forward(batch); },
                ::testing::ThrowsMessage<Error>(::testing::HasSubstr("sequence 0 continues at position 0, but the batch gives position 3")));
    batch.clear();
    batch.add(100000, 0, 0, true);
    EXPECT_THROW(s.forward(batch), Error);
}

}  // namespace
}  // namespace slm::test
