// Tokenizer pieces pinned one by one: UTF-8 repair as Python's errors="replace", GPT-2's byte map,
// BPE merge order, streaming decode, special ids, GGUF/HF agreement, and errors on bad input.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>
#include <slm/tokenizer.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "testing/testing.h"
#include "tokenizer/unicode_text.h"

namespace {

using nlohmann::json;
using testing::HasSubstr;

TEST(TokenizerUtf8, RepairReplacesEachMaximalInvalidSequenceOnce) {
    // Python: b"a\xff\xfeb\xe4\xb8c\xf0\x9f".decode("utf-8", "replace")
    EXPECT_EQ(slm::tok::repair_utf8("a\xff\xfe" "b\xe4\xb8" "c\xf0\x9f"),
              "a\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD");
    EXPECT_EQ(slm::tok::repair_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    EXPECT_EQ(slm::tok::repair_utf8("ok \xEF\xBF\xBD caf\xC3\xA9"), "ok \xEF\xBF\xBD caf\xC3\xA9");
    EXPECT_EQ(slm::tok::complete_utf8_prefix("ab\xE6\x97"), 2u);
    EXPECT_EQ(slm::tok::complete_utf8_prefix("ab\xE6\x97\xA5"), 5u);
}

TEST(TokenizerByteLevel, EveryByteMapsToOneCharacterAndBack) {
    EXPECT_EQ(slm::tok::byte_to_unicode(' '), "\xC4\xA0");    // Ġ
    EXPECT_EQ(slm::tok::byte_to_unicode('\n'), "\xC4\x8A");   // Ċ
    EXPECT_EQ(slm::tok::byte_to_unicode('a'), "a");
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    EXPECT_EQ(slm::tok::bytes_from_byte_level(slm::tok::byte_level_encode(all)), all);
}

// A tiny BPE tokenizer.json: the merge order, not the token ids, decides the split.
std::unique_ptr<slm::Tokenizer> tiny_bpe(const json& merges) {
    json spec = {{"model",
                  {{"type", "BPE"},
                   {"vocab", {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}}},
                   {"merges", merges}}}};
    return slm::Tokenizer::from_hf_json(spec.dump(), "", "tiny");
}

TEST(TokenizerBpe, LowestRankMergesFirst) {
    EXPECT_EQ(tiny_bpe(json::array({"b c", "a bc"}))->encode("abc", false), (std::vector<int32_t>{5}));
    EXPECT_EQ(tiny_bpe(json::array({"a b", "b c"}))->encode("abc", false), (std::vector<int32_t>{3, 2}));
    EXPECT_EQ(tiny_bpe(json::array({"b c", "a b"}))->encode("abc", false), (std::vector<int32_t>{0, 4}));
    // [a, b] pairs as in newer tokenizer.json files.
    EXPECT_EQ(tiny_bpe(json::array({json::array({"a", "b"})}))->encode("abab", false), (std::vector<int32_t>{3, 3}));
}

TEST(TokenizerBpe, MergesAVeryLongWord) {
    // One 600 000-character word: the heap-based merge handles it (a quadratic loop would not).
    auto tok = tiny_bpe(json::array({"a b", "ab c"}));
    std::string text;
    for (int i = 0; i < 200000; ++i) text += "abc";
    EXPECT_EQ(tok->encode(text, false).size(), 200000u);
}

std::vector<std::string> fixture_texts() {
    json f = json::parse(slm::read_text_file(slm::test::fixtures_dir() + "/tokenizer/expected-trained-bytelevel.json"));
    std::vector<std::string> texts;
    for (const json& c : f["cases"]) texts.push_back(c["text"]);
    return texts;
}

// Streaming output, joined, equals the one-shot decode, and no piece ends in a broken character.
void expect_streaming_matches(const slm::Tokenizer& tok, const std::string& text) {
    auto ids = tok.encode(text, true, true);
    slm::StreamingDecoder stream(tok, /*skip_special=*/true);
    std::string joined;
    for (int32_t id : ids) {
        std::string piece = stream.push(id);
        EXPECT_EQ(slm::tok::complete_utf8_prefix(piece), piece.size());
        joined += piece;
    }
    joined += stream.flush();
    EXPECT_EQ(joined, tok.decode(ids, true)) << "text: " << text;
}

TEST(TokenizerStreaming, JoinedPiecesEqualDecode) {
    auto tok = slm::Tokenizer::from_hf_files(slm::test::fixtures_dir() + "/tokenizer/trained-bytelevel.json", "");
    for (const std::string& text : fixture_texts()) expect_streaming_matches(*tok, text);
    SLM_REQUIRE_SHARED(shared);
    for (const char* model : {"tinyllama-spm-13m", "tinyqwen2-bpe-11m"}) {
        auto real = slm::Tokenizer::from_model_path(shared + "/models/" + model);
        for (const std::string& text : fixture_texts()) expect_streaming_matches(*real, text);
    }
}

TEST(TokenizerStreaming, ByteFallbackWaitsForTheWholeCharacter) {
    SLM_REQUIRE_SHARED(shared);
    auto tok = slm::Tokenizer::from_model_path(shared + "/models/tinyllama-spm-13m");
    // U+1F999 (🦙) is not a piece: it becomes four <0xXX> tokens.
    auto ids = tok->encode("\xF0\x9F\xA6\x99", false);
    ASSERT_EQ(ids.size(), 5u) << "▁ then four byte tokens";
    slm::StreamingDecoder stream(*tok);
    std::vector<std::string> out;
    for (int32_t id : ids) out.push_back(stream.push(id));
    EXPECT_EQ(out[1] + out[2] + out[3], "");
    EXPECT_EQ(out[0] + out[4] + stream.flush(), "\xF0\x9F\xA6\x99");
}

TEST(TokenizerSpecials, ModelsReportTheirSpecialTokens) {
    SLM_REQUIRE_SHARED(shared);
    auto llama = slm::Tokenizer::from_model_path(shared + "/models/tinyllama-spm-13m");
    EXPECT_EQ(llama->type_name(), "SentencePiece BPE");
    EXPECT_EQ(llama->bos_id(), 1);
    EXPECT_TRUE(llama->add_bos());
    EXPECT_THAT(llama->eos_ids(), testing::Contains(2));
    EXPECT_TRUE(llama->is_special(1));
    EXPECT_FALSE(llama->is_special(100));
    EXPECT_EQ(llama->token_piece(1), "<s>");
    EXPECT_EQ(llama->token_bytes(llama->token_id("\xE2\x96\x81the").value()), " the");
    auto qwen = slm::Tokenizer::from_model_path(shared + "/models/tinyqwen2-bpe-11m");
    EXPECT_EQ(qwen->type_name(), "BPE (byte-level)");
    EXPECT_FALSE(qwen->add_bos());
    EXPECT_THAT(qwen->eos_ids(), testing::IsSupersetOf({0, 2}));  // <|endoftext|>, <|im_end|>
    EXPECT_EQ(qwen->token_bytes(qwen->token_id("\xC4\xA0the").value()), " the");
    EXPECT_EQ(qwen->vocab_size(), 8192);
}

TEST(TokenizerLoad, ModelPathMayNameATokenizerJson) {
    auto tok = slm::Tokenizer::from_model_path(slm::test::fixtures_dir() + "/tokenizer/trained-wordpiece.json");
    EXPECT_EQ(tok->type_name(), "WordPiece");
    auto ids = tok->encode("hello", true);
    ASSERT_GE(ids.size(), 3u);
    EXPECT_EQ(tok->token_piece(ids.front()), "[CLS]");
    EXPECT_EQ(tok->token_piece(ids.back()), "[SEP]");
    EXPECT_EQ(tok->decode(ids, true), "hello");
}

TEST(TokenizerGguf, QwenGgufAndTokenizerJsonAgree) {
    SLM_REQUIRE_SHARED(shared);
    const std::string dir = shared + "/models/tinyqwen2-bpe-11m";
    auto hf = slm::Tokenizer::from_model_path(dir);
    auto gguf = slm::Tokenizer::from_model_path(dir + "/tinyqwen2-bpe-11m-q8_0.gguf");
    for (const std::string& text : fixture_texts()) {
        EXPECT_EQ(gguf->encode(text, false), hf->encode(text, false)) << text;
        EXPECT_EQ(gguf->encode(text, false, true), hf->encode(text, false, true)) << text;
    }
}

TEST(TokenizerErrors, MalformedTokenizerJsonNamesTheProblem) {
    auto error_of = [](const std::string& text) {
        try {
            slm::Tokenizer::from_hf_json(text, "", "my/tokenizer.json");
        } catch (const slm::Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_THAT(error_of("{not json"), HasSubstr("my/tokenizer.json"));
    EXPECT_THAT(error_of("{}"), HasSubstr("model"));
    EXPECT_THAT(error_of(R"({"model": {"type": "Weird", "vocab": {}}})"), HasSubstr("Weird"));
    EXPECT_THAT(error_of(R"({"model": {"type": "BPE", "vocab": {"a": "x"}}})"), HasSubstr("model.vocab"));
    EXPECT_THAT(error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}})"), HasSubstr("merges"));
    EXPECT_THAT(error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0}}, "normalizer": {"type": "Nope"}})"),
                HasSubstr("normalizer.type"));
    EXPECT_THAT(error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0}}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "("}}})"),
                HasSubstr("does not compile"));
    EXPECT_THAT(error_of(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})"), HasSubstr("[UNK]"));
}

TEST(TokenizerErrors, GgufWithoutVocabularyOrWithUnknownPreIsRejected) {
    const std::string dir = slm::test::temp_dir();
    slm::GgufWriter bare;
    bare.set("general.architecture", slm::GgufWriter::str("llama"));
    bare.write(dir + "/bare.gguf");
    auto bare_file = slm::GgufFile::open(dir + "/bare.gguf");
    EXPECT_THROW(
        {
            try {
                slm::Tokenizer::from_gguf(*bare_file);
            } catch (const slm::Error& e) {
                EXPECT_THAT(e.what(), HasSubstr("bare.gguf"));
                throw;
            }
        },
        slm::Error);

    slm::GgufWriter odd;
    odd.set("tokenizer.ggml.model", slm::GgufWriter::str("gpt2"));
    odd.set("tokenizer.ggml.pre", slm::GgufWriter::str("no-such-pre"));
    odd.set("tokenizer.ggml.tokens", slm::GgufWriter::string_array({"a", "b", "ab"}));
    odd.set("tokenizer.ggml.merges", slm::GgufWriter::string_array({"a b"}));
    odd.write(dir + "/odd.gguf");
    auto odd_file = slm::GgufFile::open(dir + "/odd.gguf");
    try {
        slm::Tokenizer::from_gguf(*odd_file);
        ADD_FAILURE() << "unknown pre-tokenizer accepted";
    } catch (const slm::Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("no-such-pre"));
    }
    EXPECT_THROW(slm::Tokenizer::from_model_path(dir + "/missing.gguf"), slm::Error);
}

}  // namespace
