// slm convert on the tiny BERT encoders: the GGUF holds llama.cpp's bert keys and names, its
// WordPiece vocabulary (phantom-space spelling) tokenizes the fixture's texts as the directory's
// tokenizer does, and it embeds to sentence-transformers' vectors (f32 within 1e-4, q8_0 close);
// XLM-R's Unigram vocabulary the same; what GGUF cannot express is refused by name.
#include <slm/convert.h>
#include <slm/embedder.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>

#include "testing/testing.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

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

// XLM-R as llama.cpp writes it: a `bert` GGUF whose Unigram vocabulary is llama.cpp's "t5" one and
// whose position table starts past the padding offset (pad_token_id + 1 = 2 rows cut).
TEST(EncoderGguf, XlmRobertaWritesItsUnigramVocabularyAndEmbedsAsSentenceTransformers) {
    const std::string path = convert_encoder("xlmr-mean", DType::f32);
    const auto gguf = GgufFile::open(path);
    EXPECT_EQ(gguf->get_string("general.architecture"), "bert");
    EXPECT_EQ(gguf->get_int("bert.context_length"), 34 - 2);
    EXPECT_EQ(gguf->get_int("bert.pooling_type"), 1);  // mean
    EXPECT_EQ(gguf->get_string("tokenizer.ggml.model"), "t5");
    EXPECT_EQ(gguf->get_bool("tokenizer.ggml.add_space_prefix"), true);
    EXPECT_EQ(gguf->get_bool("tokenizer.ggml.remove_extra_whitespaces"), false);  // NFKC alone collapses nothing
    EXPECT_EQ(gguf->find("tokenizer.ggml.precompiled_charsmap"), nullptr);
    EXPECT_EQ(gguf->get_int("tokenizer.ggml.bos_token_id"), 0);
    EXPECT_EQ(gguf->get_int("tokenizer.ggml.eos_token_id"), 2);
    EXPECT_EQ(gguf->get_int("tokenizer.ggml.unknown_token_id"), 3);
    EXPECT_EQ(gguf->get_int("tokenizer.ggml.padding_token_id"), 1);
    const auto tokens = gguf->get_string_array("tokenizer.ggml.tokens");
    const auto scores = gguf->get_float_array("tokenizer.ggml.scores");
    const auto types = gguf->get_int_array("tokenizer.ggml.token_type");
    ASSERT_EQ(tokens.size(), 152u);
    ASSERT_EQ(scores.size(), 152u);
    EXPECT_EQ(tokens[0], "<s>");
    EXPECT_EQ(types[0], 3);  // control
    EXPECT_EQ(types[3], 2);  // <unk>: unknown
    EXPECT_EQ(tokens[5], "\xe2\x96\x81");
    EXPECT_EQ(types[5], 1);
    EXPECT_NEAR(scores[5], -1.8162245728373223, 1e-6);
    const GgufTensorInfo* positions = gguf->find_info("position_embd.weight");
    ASSERT_NE(positions, nullptr);
    EXPECT_EQ(positions->shape[0], 32);

    const Reference ref = reference("xlmr-mean");
    EmbedderOptions o;
    o.threads = 1;
    o.normalize = false;  // the directory has no Normalize module; GGUF records none
    o.max_tokens = 24;    // the directory's model_max_length
    auto e = Embedder::open(path, o);
    for (size_t i = 0; i < ref.texts.size(); ++i) EXPECT_EQ(e->tokens(ref.texts[i]), ref.ids[i]) << ref.texts[i];
    const auto vectors = e->embed(ref.texts);
    for (size_t i = 0; i < ref.texts.size(); ++i)
        EXPECT_LT(max_diff(vectors[i], ref.vectors[i]), 1e-4) << ref.texts[i];
}

// Real XLM-R tokenizers normalize with SentencePiece's compiled rules and collapse runs of spaces:
// the rules travel as bytes, the collapsing as remove_extra_whitespaces, and the file read back
// applies NFKC and drops extra spaces as llama.cpp's UGM tokenizer does.
TEST(EncoderGguf, XlmRobertaCarriesCompiledRulesAndSpaceCollapsing) {
    const std::string dir = temp_dir() + "/xlmr-precompiled";
    std::filesystem::copy(encoder_dir("xlmr-mean"), dir, std::filesystem::copy_options::recursive);
    auto tj = nlohmann::json::parse(read_text_file(dir + "/tokenizer.json"));
    tj["normalizer"] = {{"type", "Sequence"},
                        {"normalizers",
                         {{{"type", "Precompiled"}, {"precompiled_charsmap", "AAECAwT/"}},
                          {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}}}}};
    write_file_atomic(dir + "/tokenizer.json", tj.dump());
    const std::string out = temp_dir() + "/xlmr-precompiled.gguf";
    ConvertOptions options;
    convert_hf_to_gguf(dir, out, options, nullptr);
    const auto gguf = GgufFile::open(out);
    EXPECT_EQ(gguf->get_bool("tokenizer.ggml.remove_extra_whitespaces"), true);
    EXPECT_EQ(gguf->get_int_array("tokenizer.ggml.precompiled_charsmap"), (std::vector<int64_t>{0, 1, 2, 3, 4, 255}));
    EmbedderOptions o;
    o.threads = 1;
    auto e = Embedder::open(out, o);
    EXPECT_EQ(e->tokens("  the quick   brown fox "), e->tokens("the quick brown fox"));
    EXPECT_EQ(e->tokens("\xef\xac\x81ne"), e->tokens("fine"));  // U+FB01, the "fi" ligature, under NFKC
}

// A Unigram tokenizer whose preparation GGUF cannot carry is refused by name.
TEST(EncoderGguf, RefusesAUnigramNormalizerGgufCannotCarry) {
    const std::string dir = temp_dir() + "/xlmr-lowercase";
    std::filesystem::copy(encoder_dir("xlmr-mean"), dir, std::filesystem::copy_options::recursive);
    auto tj = nlohmann::json::parse(read_text_file(dir + "/tokenizer.json"));
    tj["normalizer"] = {{"type", "Lowercase"}};
    write_file_atomic(dir + "/tokenizer.json", tj.dump());
    ConvertOptions options;
    try {
        convert_hf_to_gguf(dir, temp_dir() + "/xlmr-lowercase.gguf", options, nullptr);
        FAIL() << "a lowercasing Unigram encoder was converted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("normalizer 'Lowercase'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace slm::test
