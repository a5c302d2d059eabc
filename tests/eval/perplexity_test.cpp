// Perplexity and KL divergence against tests/fixtures/models/perplexity.json, where
// make_fixtures.py applied llama-perplexity's rules with transformers in float32: on token ids
// with the tiny "llama" fixture (and "llama_gqa_tied" as the KL base), and on a WikiText-2
// excerpt with the real models of ../shared (tokenization included).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <slm/error.h>
#include <slm/eval/perplexity.h>
#include <slm/file_io.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "testing/testing.h"

namespace slm::eval {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const json& reference() {
    static const json j = json::parse(read_text_file(test::fixtures_dir() + "/models/perplexity.json"));
    return j;
}

std::unique_ptr<Model> tiny_model(const std::string& name) { return Model::load(test::fixtures_dir() + "/models/" + name); }

PerplexityTokens tokens_of(const json& ref) {
    PerplexityTokens t;
    t.tokens = ref["tokens"].get<std::vector<int32_t>>();
    if (!ref["bos"].is_null()) t.bos = ref["bos"].get<int32_t>();
    return t;
}

// Float32 forwards in two implementations agree to ~1e-6 per logit, so with an f32 KV cache the
// mean log-likelihood (the log of perplexity) agrees to ~1e-6; the default f16 cache rounds keys
// and values to 11 bits, which moves it by up to ~1e-4.
constexpr double kF32Tolerance = 1e-5, kF16CacheTolerance = 5e-4;

PerplexityOptions options_for(const json& ref, DType kv_dtype = DType::f32) {
    PerplexityOptions options;
    options.n_ctx = ref["n_ctx"];
    options.kv_dtype = kv_dtype;
    return options;
}

void expect_matches(const PerplexityResult& r, const json& ref, double tolerance = kF32Tolerance) {
    EXPECT_EQ(r.n_chunks, ref["n_chunks"].get<int>());
    EXPECT_EQ(r.n_scored, ref["n_scored"].get<int64_t>());
    EXPECT_NEAR(std::log(r.ppl), std::log(ref["ppl"].get<double>()), tolerance);
    EXPECT_NEAR(r.ppl_stderr, ref["ppl_stderr"].get<double>(), 10 * tolerance * ref["ppl_stderr"].get<double>());
    const auto running = ref["running"].get<std::vector<double>>();
    ASSERT_EQ(r.running_ppl.size(), running.size());
    for (size_t c = 0; c < running.size(); ++c) EXPECT_NEAR(std::log(r.running_ppl[c]), std::log(running[c]), tolerance) << c;
}

TEST(Perplexity, TinyFixtureMatchesTransformers) {
    const json& ref = reference()["tiny"];
    const auto model = tiny_model(ref["model"]);
    expect_matches(perplexity(*model, tokens_of(ref), options_for(ref)), ref);
    expect_matches(perplexity(*model, tokens_of(ref), options_for(ref, DType::f16)), ref, kF16CacheTolerance);
}

TEST(Perplexity, KlDivergenceFromBaseMatchesTransformers) {
    const json& ref = reference()["tiny_kl"];
    const auto model = tiny_model(ref["model"]);
    const auto base = tiny_model(ref["base"]);
    PerplexityOptions options = options_for(ref);
    options.kl_base = base.get();
    const PerplexityResult r = perplexity(*model, tokens_of(ref), options);
    expect_matches(r, ref);
    ASSERT_TRUE(r.kld && r.same_top_token);
    EXPECT_NEAR(*r.kld, ref["kld"].get<double>(), 1e-5 * ref["kld"].get<double>());
    EXPECT_NEAR(*r.same_top_token, ref["same_top_token"].get<double>(), 1e-12);
}

TEST(Perplexity, ChunkLimitAndCallback) {
    const json& ref = reference()["tiny"];
    const auto model = tiny_model(ref["model"]);
    PerplexityOptions options = options_for(ref);
    options.max_chunks = 2;
    std::vector<int> seen;
    const PerplexityResult r = perplexity(*model, tokens_of(ref), options, [&](int c, double) { seen.push_back(c); });
    EXPECT_EQ(r.n_chunks, 2);
    EXPECT_EQ(seen, (std::vector<int>{0, 1}));
    EXPECT_NEAR(r.ppl, ref["running"][1].get<double>(), 1e-5 * r.ppl);
}

TEST(Perplexity, RealModelsOnWikitextMatchTransformers) {
    SLM_REQUIRE_SHARED(shared);
    const std::string text = read_text_file(test::fixtures_dir() + "/models/perplexity_text.txt");
    for (const auto& [name, ref] : reference()["real"].items()) {
        SCOPED_TRACE(name);
        const std::string dir = shared + "/models/" + name;
        const auto model = Model::load(dir);
        const auto tokenizer = Tokenizer::from_model_path(dir);
        const PerplexityTokens input = PerplexityTokens::from_text(*tokenizer, text);
        EXPECT_EQ(input.tokens, ref["tokens"].get<std::vector<int32_t>>());
        EXPECT_EQ(input.bos, tokens_of(ref).bos);
        expect_matches(perplexity(*model, input, options_for(ref)), ref);
    }
}

TEST(Perplexity, BadInputIsAClearError) {
    const auto model = tiny_model("llama");
    PerplexityOptions options;
    options.n_ctx = 32;
    PerplexityTokens short_stream{std::vector<int32_t>(63, 5), 1};
    EXPECT_THAT([&] { perplexity(*model, short_stream, options); },
                ::testing::ThrowsMessage<Error>(HasSubstr("63 tokens; a context of 32 needs at least 64")));
    PerplexityTokens outside{std::vector<int32_t>(64, 5), 1};
    outside.tokens[40] = 256;
    EXPECT_THAT([&] { perplexity(*model, outside, options); },
                ::testing::ThrowsMessage<Error>(HasSubstr("token id 256 is outside the vocabulary of 256")));
    options.n_ctx = 2;
    EXPECT_THAT([&] { perplexity(*model, outside, options); },
                ::testing::ThrowsMessage<Error>(HasSubstr("context of 2 tokens is too small")));
}

}  // namespace
}  // namespace slm::eval
