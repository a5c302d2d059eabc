// The convert → quantize → perplexity cycle on a real model, through the command line: the f16
// GGUF scores the WikiText-2 excerpt as transformers does (tests/fixtures/models/perplexity.json),
// quantized files score a little worse in the order of their bits, --kl-base measures how far
// they moved, and bad input is a one-line error naming what was wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <slm/file_io.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "cli/run_slm.h"
#include "testing/testing.h"

namespace slm {
namespace {

using nlohmann::json;
using test::quoted;
using test::run_slm;
using ::testing::HasSubstr;

const std::string kModel = "tinyllama-spm-13m";

std::string text_path() { return test::fixtures_dir() + "/models/perplexity_text.txt"; }

json perplexity_json(const std::string& model, const std::string& extra = "") {
    const auto r = run_slm("perplexity " + quoted(model) + " --file " + quoted(text_path()) + " --ctx 128 --json " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
}

// Writes the f16 GGUF once for the whole suite and the quantized files from it.
class QuantizeCli : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string shared = test::shared_dir();
        if (shared.empty()) return;
        dir_ = test::temp_dir();
        const auto c = run_slm("convert " + quoted(shared + "/models/" + kModel) + " -o " + quoted(dir_ + "/f16.gguf") +
                               " --type f16");
        ASSERT_EQ(c.exit_code, 0) << c.err;
        for (const std::string type : {"q8_0", "q4_k_m"}) {
            const auto q = run_slm("quantize " + quoted(dir_ + "/f16.gguf") + " " + quoted(dir_ + "/" + type + ".gguf") +
                                   " " + type);
            ASSERT_EQ(q.exit_code, 0) << q.err;
        }
    }
    void SetUp() override {
        SLM_REQUIRE_SHARED(shared);
    }
    static std::string file(const std::string& name) { return dir_ + "/" + name + ".gguf"; }
    static inline std::string dir_;
};

TEST_F(QuantizeCli, F16GgufScoresAsTransformers) {
    const json ref = json::parse(read_text_file(test::fixtures_dir() + "/models/perplexity.json"))["real"][kModel];
    const json r = perplexity_json(file("f16"));
    EXPECT_EQ(r["n_chunks"], ref["n_chunks"]);
    EXPECT_EQ(r["n_ctx"], 128);
    EXPECT_EQ(r["n_tokens"], ref["tokens"].size());
    // f16 weights and an f16 cache: within a few tenths of a percent of the f32 reference.
    EXPECT_NEAR(std::log(r["ppl"].get<double>()), std::log(ref["ppl"].get<double>()), 3e-3);
}

TEST_F(QuantizeCli, QuantizedFilesScoreInOrderOfTheirBits) {
    const double f16 = perplexity_json(file("f16"))["ppl"];
    const double q8 = perplexity_json(file("q8_0"))["ppl"];
    const double q4 = perplexity_json(file("q4_k_m"))["ppl"];
    EXPECT_NEAR(q8 / f16, 1.0, 0.01);
    EXPECT_GT(q4, q8);
    EXPECT_LT(q4 / f16, 1.15);
}

TEST_F(QuantizeCli, KlBaseReportsDivergenceAndAgreement) {
    const json self = perplexity_json(file("f16"), "--chunks 4 --kl-base " + quoted(file("f16")));
    EXPECT_NEAR(self["kld"].get<double>(), 0.0, 1e-12);
    EXPECT_EQ(self["same_top_token"], 1.0);
    const json q8 = perplexity_json(file("q8_0"), "--chunks 6 --kl-base " + quoted(file("f16")));
    const json q4 = perplexity_json(file("q4_k_m"), "--chunks 6 --kl-base " + quoted(file("f16")));
    EXPECT_GT(q8["kld"].get<double>(), 0.0);
    EXPECT_LT(q8["kld"].get<double>(), q4["kld"].get<double>());
    EXPECT_LT(q4["kld"].get<double>(), 0.1);
    EXPECT_GT(q8["same_top_token"].get<double>(), q4["same_top_token"].get<double>() - 0.02);
    EXPECT_GT(q4["same_top_token"].get<double>(), 0.8);
}

TEST_F(QuantizeCli, TextOutputEndsWithLlamaPerplexitysFinalLine) {
    const auto r = run_slm("perplexity " + quoted(file("q8_0")) + " --file " + quoted(text_path()) + " --ctx 128 --chunks 3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, ::testing::MatchesRegex("\\[1\\][0-9.]+,\\[2\\][0-9.]+,\\[3\\][0-9.]+,\nFinal estimate: PPL = [0-9.]+ \\+/- [0-9.]+\n"));
}

TEST_F(QuantizeCli, BadInputIsAOneLineError) {
    const std::string short_text = test::temp_dir() + "/short.txt";
    write_file_atomic(short_text, "Too short to score.");
    auto r = run_slm("perplexity " + quoted(file("q8_0")) + " --file " + quoted(short_text));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("short.txt"));
    EXPECT_THAT(r.err, HasSubstr("needs at least 1024"));

    r = run_slm("quantize " + quoted(file("f16")) + " " + quoted(dir_ + "/bad.gguf") + " q9_9");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("q9_9"));
    EXPECT_FALSE(file_exists(dir_ + "/bad.gguf"));

    r = run_slm("quantize " + quoted(file("q4_k_m")) + " " + quoted(dir_ + "/re.gguf") + " q4_0");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("--allow-requantize"));

    r = run_slm("perplexity " + quoted(file("q8_0")) + " --file " + quoted(text_path()) + " --ctx 128 --kl-base " +
                quoted(test::fixtures_dir() + "/models/llama"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("vocabulary"));
}

}  // namespace
}  // namespace slm
