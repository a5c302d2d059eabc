// slm convert on the tiny BERT encoders: the GGUF holds llama.cpp's bert keys and names, its
// WordPiece vocabulary (phantom-space spelling) tokenizes the fixture's texts as the directory's
// tokenizer does, and it embeds to sentence-transformers' vectors (f32 within 1e-4, q8_0 close);
// encoders it cannot express are refused by name.
#include <slm/convert.h>
#include <slm/embedder.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>

#include "testing/testing.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace slm::test {
namespace {

std::string encoder_dir(const std::string& name) { return fixtures_dir() + "/encoders/" + name; }

std::string convert_encoder(const std::string& name, DType type) {
    const std::string out = temp_dir() + "/" + name + "-" + std::string(slm::name(type)) + ".gguf";
    ConvertOptions options;
    options.type = type;
    convert_hf_to_gguf(encoder_dir(name), out, options, nullptr);
    return out;
}

struct Reference {
    std::vector<std::string> texts;
    std::vector<std::vector<int32_t>> ids;
    std::vector<std::vector<float>> vectors;
};

Reference reference(const std::string& name) {
    const auto j = nlohmann::json::parse(read_text_file(encoder_dir(name) + "/reference.json"));
    return {j["texts"].get<std::vector<std::string>>(), j["token_ids"].get<std::vector<std::vector<int32_t>>>(),
            j["embeddings"].get<std::vector<std::vector<float>>>()};
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

TEST(EncoderGguf, WritesLlamaCppBertKeysAndNames) {
    const auto gguf = GgufFile::open(convert_encoder("bert-cls-normalize", DType::f32));
    EXPECT_EQ(gguf->get_string("general.architecture"), "bert");
    EXPECT_EQ(gguf->get_int("bert.pooling_type"), 2);  // cls
    EXPECT_EQ(gguf->get_bool("bert.attention.causal"), false);
    EXPECT_EQ(gguf->get_string("tokenizer.ggml.model"), "bert");
    EXPECT_EQ(gguf->get_int("tokenizer.ggml.token_type_count"), 2);
    for (const char* name : {"token_embd.weight", "position_embd.weight", "token_types.weight", "token_embd_norm.bias",
                             "blk.1.attn_q.weight", "blk.1.attn_output_norm.weight", "blk.1.ffn_up.bias",
                             "blk.1.layer_output_norm.bias"})
        EXPECT_NE(gguf->find_info(name), nullptr) << name;
    const auto tokens = gguf->get_string_array("tokenizer.ggml.tokens");
    EXPECT_EQ(tokens[2], "[CLS]");
    EXPECT_EQ(tokens[104], "\xe2\x96\x81the");  // a word-initial piece gets U+2581
}

// Both poolings; the GGUF records the pooling but not the Normalize module, so the mean model's
// vectors are compared with normalisation off as its directory declares.
TEST(EncoderGguf, EmbedsAsSentenceTransformers) {
    for (const auto& [name, normalize] : {std::pair{"bert-cls-normalize", true}, std::pair{"bert-mean", false}}) {
        const Reference ref = reference(name);
        EmbedderOptions o;
        o.threads = 1;
        o.normalize = normalize;
        o.max_tokens = int64_t(24);  // the directory's model_max_length; GGUF keeps only the position count
        auto e = Embedder::open(convert_encoder(name, DType::f32), o);
        EXPECT_EQ(e->id().substr(0, 4), "bert");
        for (size_t i = 0; i < ref.texts.size(); ++i) EXPECT_EQ(e->tokens(ref.texts[i]), ref.ids[i]) << ref.texts[i];
        const auto vectors = e->embed(ref.texts);
        for (size_t i = 0; i < ref.texts.size(); ++i)
            EXPECT_LT(max_diff(vectors[i], ref.vectors[i]), 1e-4) << name << ": " << ref.texts[i];
    }
}

TEST(EncoderGguf, Q8EmbeddingsStayClose) {
    const Reference ref = reference("bert-cls-normalize");
    EmbedderOptions o;
    o.threads = 1;
    o.max_tokens = 24;
    const auto vectors = Embedder::open(convert_encoder("bert-cls-normalize", DType::q8_0), o)->embed(ref.texts);
    for (size_t i = 0; i < ref.texts.size(); ++i) {
        double dot = 0;
        for (size_t d = 0; d < vectors[i].size(); ++d) dot += double(vectors[i][d]) * ref.vectors[i][d];
        EXPECT_GT(dot, 0.995) << ref.texts[i];  // both unit length: cosine similarity
    }
}

TEST(EncoderGguf, RefusesAUnigramEncoder) {
    try {
        convert_encoder("xlmr-mean", DType::f32);
        FAIL() << "an XLM-R encoder was converted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("xlm-roberta"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace slm::test
