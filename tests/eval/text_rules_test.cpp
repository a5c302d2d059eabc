// The Python string rules the metrics depend on (pinned on cases where a naive C++ reading differs
// from Python), the BLEU tokenizers on hand-checked lines, and the readers' error messages.
#include <gtest/gtest.h>

#include <slm/error.h>
#include <slm/eval/bleu.h>
#include <slm/eval/rouge.h>
#include <slm/eval/segments.h>
#include <slm/eval/squad.h>
#include <slm/file_io.h>

#include "eval/python_text.h"
#include "testing/testing.h"

namespace slm::eval {
namespace {

TEST(PythonText, LowerUsesFullMappingAndFinalSigma) {
    EXPECT_EQ(py::lower(std::string_view("ΟΔΥΣΣΕΥΣ ΣΟΦΟΣ.")), "οδυσσευς σοφος.");
    EXPECT_EQ(py::lower(std::string_view("İ")), "i\xCC\x87");   // U+0130 -> i + combining dot
    EXPECT_EQ(py::lower(std::string_view("\u212A")), "k");      // Kelvin sign
}

TEST(PythonText, SplitUsesPythonWhitespace) {
    auto parts = py::split(std::string_view("a\u00a0b\u3000c\x1f" "d\u200be"));  // U+200B is not space
    ASSERT_EQ(parts.size(), 4u);
    EXPECT_EQ(parts[3], "d\u200be");
}

TEST(BleuTokenizers, ThirteenAKeepsNumbersAndUnescapes) {
    EXPECT_EQ(tokenize_for_bleu("It costs $3.50, or 1,000 yen - in 2019.", BleuTokenizer::k13a),
              "It costs $ 3.50 , or 1,000 yen - in 2019 .");
    EXPECT_EQ(tokenize_for_bleu("Tom &amp; Jerry &quot;hi&quot;", BleuTokenizer::k13a), "Tom & Jerry \" hi \"");
}

TEST(BleuTokenizers, ZhSplitsCjkAndSacrebleusGeneralPunctuationRange) {
    // U+2014 (em dash) falls in the range sacrebleu's zh tokenizer really tests (U+2001..U+2A6D).
    EXPECT_EQ(tokenize_for_bleu("我爱北京—ok", BleuTokenizer::kZh), "我 爱 北 京 — ok");
    EXPECT_EQ(tokenize_for_bleu("a b", BleuTokenizer::kChar), "a   b");
}

TEST(Bleu, EmptyHypothesisScoresZeroWithZeroBrevityPenalty) {
    auto s = sentence_bleu("", {"some reference words"});
    EXPECT_EQ(s.score, 0.0);
    EXPECT_EQ(s.bp, 0.0);
    EXPECT_EQ(s.signature, "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:" + std::string(kSacrebleuVersion));
}

TEST(Rouge, TokenizerKeepsAsciiAlphanumericRunsOnly) {
    auto t = rouge_tokenize("Über-cool café_42 RUNNING", true);
    ASSERT_EQ(t.size(), 5u);
    EXPECT_EQ(t[0], "ber");
    EXPECT_EQ(t[1], "cool");
    EXPECT_EQ(t[2], "caf");
    EXPECT_EQ(t[3], "42");
    EXPECT_EQ(t[4], "run");
}

TEST(Squad, NormalizationRemovesWholeArticlesOnly) {
    EXPECT_EQ(squad_normalize_answer("The Theater of an Anthem, a play!"), "theater of anthem play");
    EXPECT_EQ(squad_normalize_answer("éthe"), "éthe");
}

TEST(Segments, ReadersNameTheFileAndLine) {
    const std::string dir = test::temp_dir();
    write_file_atomic(dir + "/h.txt", "a\r\nb\n");
    write_file_atomic(dir + "/r.txt", "a\n");
    EXPECT_EQ(read_lines(dir + "/h.txt"), (std::vector<std::string>{"a", "b"}));
    try {
        read_segment_files(dir + "/h.txt", {dir + "/r.txt"});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("r.txt has 1 lines"), std::string::npos) << e.what();
    }
    write_file_atomic(dir + "/bad.jsonl", "{\"hyp\": \"x\", \"refs\": [\"y\"]}\n{\"hyp\": \"x\", \"refs\": 3}\n");
    try {
        read_segments_jsonl(dir + "/bad.jsonl", "hyp", "refs");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_squad_dataset("{\"data\": [{\"paragraphs\": [{\"qas\": []}]}]}", "x.json"), Error);
    EXPECT_THROW(RougeScorer({"rouge0"}, false), Error);
    EXPECT_THROW(parse_bleu_smoothing("floor2"), Error);
}

}  // namespace
}  // namespace slm::eval
