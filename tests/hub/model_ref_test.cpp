// Model names: what parses, and the errors for what does not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <slm/error.h>
#include <slm/hub.h>

using ::testing::HasSubstr;

namespace slm {
namespace {

TEST(ModelRef, ParsesRepoRevisionAndQuant) {
    ModelRef r = parse_model_ref("Qwen/Qwen2.5-0.5B-Instruct");
    EXPECT_EQ(r.repo, "Qwen/Qwen2.5-0.5B-Instruct");
    EXPECT_EQ(r.revision, "main");
    EXPECT_FALSE(r.revision_given);
    EXPECT_EQ(r.quant, "");
    r = parse_model_ref("bartowski/Llama-3.2-1B-Instruct-GGUF@refs/pr/1:Q4_K_M");
    EXPECT_EQ(r.repo, "bartowski/Llama-3.2-1B-Instruct-GGUF");
    EXPECT_EQ(r.revision, "refs/pr/1");
    EXPECT_TRUE(r.revision_given);
    EXPECT_EQ(r.quant, "Q4_K_M");
    EXPECT_EQ(r.str(), "bartowski/Llama-3.2-1B-Instruct-GGUF@refs/pr/1:Q4_K_M");
    EXPECT_EQ(parse_model_ref("org/name:q8_0").quant, "q8_0");
    EXPECT_EQ(parse_model_ref("hf.co/org/name:Q8_0").repo, "org/name");
    EXPECT_EQ(parse_model_ref("https://huggingface.co/org/name").repo, "org/name");
}

TEST(ModelRef, RejectsMalformedNamesSayingWhy) {
    auto error_of = [](const char* text) {
        try {
            parse_model_ref(text);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_THAT(error_of("gpt2"), HasSubstr("expected org/name"));
    EXPECT_THAT(error_of("a/b/c"), HasSubstr("single '/'"));
    EXPECT_THAT(error_of("/name"), HasSubstr("organisation is empty"));
    EXPECT_THAT(error_of("org/na me"), HasSubstr("may only hold"));
    EXPECT_THAT(error_of("org/a--b"), HasSubstr("'--'"));
    EXPECT_THAT(error_of("org/-name"), HasSubstr("start or end"));
    EXPECT_THAT(error_of("org/name@"), HasSubstr("nothing after '@'"));
    EXPECT_THAT(error_of("org/name:"), HasSubstr("nothing after ':'"));
    EXPECT_THAT(error_of("org/name@a..b"), HasSubstr("not a valid revision"));
    EXPECT_THAT(error_of("org/name:Q4 K"), HasSubstr("quantization"));
}

}  // namespace
}  // namespace slm
