// Embedder: the tiny sentence-transformers encoders of tests/fixtures/encoders give
// sentence-transformers' token ids and vectors (CLS + Normalize, mean, XLM-R's Unigram and position
// offset, a truncated text); batching does not change a vector; options override the declared
// pipeline and change the id; a decoder in embedding mode pools its own hidden states.
#include "testing/testing.h"

#include <slm/embedder.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/model.h>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace slm::test {
namespace {

struct Reference {
    std::vector<std::string> texts;
    std::vector<std::vector<int32_t>> token_ids;
    std::vector<std::vector<float>> embeddings;
    int64_t max_seq_length = 0;
    std::string pooling;
    bool normalize = false;
};

std::string encoder_dir(const std::string& name) { return fixtures_dir() + "/encoders/" + name; }

Reference load_reference(const std::string& name) {
    const auto j = nlohmann::json::parse(read_text_file(encoder_dir(name) + "/reference.json"));
    Reference r;
    r.texts = j["texts"].get<std::vector<std::string>>();
    r.token_ids = j["token_ids"].get<std::vector<std::vector<int32_t>>>();
    r.embeddings = j["embeddings"].get<std::vector<std::vector<float>>>();
    r.max_seq_length = j["max_seq_length"].get<int64_t>();
    r.pooling = j["pooling"].get<std::string>();
    r.normalize = j["normalize"].get<bool>();
    return r;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    float m = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

double norm(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += double(x) * x;
    return std::sqrt(s);
}

EmbedderOptions one_thread() {
    EmbedderOptions o;
    o.threads = 1;
    return o;
}

class EncoderFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(EncoderFixture, TokenIdsAndVectorsMatchSentenceTransformers) {
    const Reference ref = load_reference(GetParam());
    auto e = Embedder::open(encoder_dir(GetParam()), one_thread());
    EXPECT_TRUE(e->is_encoder());
    EXPECT_EQ(e->dim(), int64_t(ref.embeddings[0].size()));
    EXPECT_EQ(e->max_tokens(), ref.max_seq_length);
    EXPECT_EQ(pooling_name(e->pooling()), ref.pooling);
    EXPECT_EQ(e->normalize(), ref.normalize);
    bool truncated = false;
    for (size_t i = 0; i < ref.texts.size(); ++i) {
        EXPECT_EQ(e->tokens(ref.texts[i]), ref.token_ids[i]) << "text " << i << ": " << ref.texts[i];
        truncated |= int64_t(ref.token_ids[i].size()) == ref.max_seq_length;
    }
    EXPECT_TRUE(truncated) << "the fixture should hold a text cut at max_seq_length";
    const auto vectors = e->embed(ref.texts);
    ASSERT_EQ(vectors.size(), ref.texts.size());
    for (size_t i = 0; i < ref.texts.size(); ++i)
        EXPECT_LT(max_diff(vectors[i], ref.embeddings[i]), 1e-4) << "text " << i << ": " << ref.texts[i];
}

TEST_P(EncoderFixture, BatchingDoesNotChangeAVector) {
    const Reference ref = load_reference(GetParam());
    EmbedderOptions small_batches;
    small_batches.threads = 2;
    small_batches.batch_tokens = 30;  // about one text per forward
    auto batched = Embedder::open(encoder_dir(GetParam()))->embed(ref.texts);
    auto e = Embedder::open(encoder_dir(GetParam()), small_batches);
    for (size_t i = 0; i < ref.texts.size(); ++i) {
        const auto alone = e->embed(std::span(&ref.texts[i], 1));
        EXPECT_LT(max_diff(alone[0], batched[i]), 1e-5) << "text " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Encoders, EncoderFixture, ::testing::Values("bert-cls-normalize", "bert-mean", "xlmr-mean"));

TEST(Embedder, OptionsOverrideTheDeclaredPipelineAndChangeTheId) {
    const std::string dir = encoder_dir("bert-cls-normalize");
    auto declared = Embedder::open(dir, one_thread());
    EmbedderOptions o = one_thread();
    o.pooling = "mean";
    o.normalize = false;
    o.max_tokens = 8;
    auto mean = Embedder::open(dir, o);
    EXPECT_EQ(mean->pooling(), Pooling::mean);
    EXPECT_FALSE(mean->normalize());
    EXPECT_EQ(mean->max_tokens(), 8);
    EXPECT_NE(mean->id(), declared->id());
    EXPECT_EQ(Embedder::open(dir, one_thread())->id(), declared->id());
    // Another model of the same shape (other weights) has another id.
    EmbedderOptions same_pipeline = one_thread();
    same_pipeline.pooling = "cls";
    same_pipeline.normalize = true;
    EXPECT_NE(Embedder::open(encoder_dir("bert-mean"), same_pipeline)->id(), declared->id());

    const std::vector<std::string> texts = {"the quick brown fox jumps over the lazy dog"};
    EXPECT_NEAR(norm(declared->embed(texts)[0]), 1.0, 1e-5);
    EXPECT_GT(std::abs(norm(mean->embed(texts)[0]) - 1.0), 1e-3);
    const auto ids = mean->tokens(texts[0]);
    ASSERT_EQ(ids.size(), 8u);  // cut to 8 with [CLS] first and [SEP] last
    EXPECT_EQ(ids.front(), declared->tokens(texts[0]).front());
    EXPECT_EQ(ids.back(), declared->tokens(texts[0]).back());
}

TEST(Embedder, RejectsBadOptions) {
    const std::string dir = encoder_dir("bert-mean");
    EmbedderOptions o = one_thread();
    o.pooling = "max";
    EXPECT_THROW(Embedder::open(dir, o), Error);
    o = one_thread();
    o.max_tokens = 100000;  // the position table has 64 rows
    EXPECT_THROW(Embedder::open(dir, o), Error);
    o.max_tokens = 2;  // no room beside [CLS] and [SEP]
    EXPECT_THROW(Embedder::open(dir, o), Error);
    EXPECT_THROW(Embedder::open(fixtures_dir() + "/encoders/no-such-model"), Error);
}

// A decoder in embedding mode: last-token pooling is the model's own final hidden state of the
// last token (normalised), and a text's vector does not depend on what it is batched with.
TEST(Embedder, DecoderPoolsItsFinalHiddenStates) {
    SLM_REQUIRE_SHARED(shared);
    const std::string path = shared + "/models/tinyqwen2-bpe-11m";
    EmbedderOptions o = one_thread();
    o.pooling = "last";
    auto e = Embedder::open(path, o);
    EXPECT_FALSE(e->is_encoder());
    EXPECT_TRUE(e->normalize());
    const std::vector<std::string> texts = {"Paris is the capital of France.", "A short one", "x"};
    const auto vectors = e->embed(texts);

    auto model = Model::load(path);
    const auto ids = e->tokens(texts[0]);
    KvCache cache(model->config(), int(ids.size()), 1, DType::f32);
    Batch batch;
    for (size_t p = 0; p < ids.size(); ++p) batch.add(ids[p], int32_t(p), 0, p + 1 == ids.size());
    std::vector<float> logits, hidden;
    ThreadPool pool(1);
    model->forward(batch, cache, logits, &pool, &hidden);
    const double n = norm(hidden);
    for (float& x : hidden) x = float(x / n);
    EXPECT_LT(max_diff(vectors[0], hidden), 1e-5);

    o.pooling = "";  // a decoder's default: mean
    auto mean = Embedder::open(path, o);
    EXPECT_EQ(mean->pooling(), Pooling::mean);
    const auto together = mean->embed(texts);
    for (size_t i = 0; i < texts.size(); ++i)
        EXPECT_LT(max_diff(mean->embed(std::span(&texts[i], 1))[0], together[i]), 1e-5) << texts[i];
}

}  // namespace
}  // namespace slm::test
