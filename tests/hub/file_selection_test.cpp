// Which files a pull takes, and which .gguf a quantization tag names.
#include "hub/file_selection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <slm/error.h>

using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace slm::hub {
namespace {

const std::vector<std::string> kHfRepo = {".gitattributes",
                                          "README.md",
                                          "config.json",
                                          "generation_config.json",
                                          "tokenizer.json",
                                          "tokenizer_config.json",
                                          "special_tokens_map.json",
                                          "tokenizer.model",
                                          "chat_template.jinja",
                                          "model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors",
                                          "model.safetensors.index.json",
                                          "pytorch_model.bin",
                                          "tf_model.h5",
                                          "flax_model.msgpack",
                                          "onnx/model.onnx",
                                          "original/consolidated.00.pth",
                                          "subdir/model.safetensors"};

TEST(FileSelection, TakesWhatAModelNeeds) {
    const auto sel = select_files(kHfRepo, "", {}, {}, "org/m");
    EXPECT_THAT(sel.files, ElementsAre("chat_template.jinja", "config.json", "generation_config.json",
                                       "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                       "model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json",
                                       "tokenizer.model", "tokenizer_config.json"));
    EXPECT_TRUE(sel.gguf.empty());
}

TEST(FileSelection, IncludeAddsAndWinsOverExclude) {
    const auto sel = select_files(kHfRepo, "", {"*.md", "original/"}, {"*", "README.md"}, "org/m");
    EXPECT_THAT(sel.files, ElementsAre("README.md", "original/consolidated.00.pth"));
    EXPECT_TRUE(glob_match("*.json", "sub/dir/x.json"));  // '*' crosses '/', as in huggingface_hub
    EXPECT_FALSE(glob_match("*.json", "x.jsonl"));
}

TEST(FileSelection, RepositoryWithoutUsableWeightsIsAnError) {
    EXPECT_THAT(
        [] {
            select_files({"config.json", "pytorch_model.bin"}, "", {}, {}, "org/old");
        },
        ::testing::ThrowsMessage<Error>(HasSubstr("no safetensors or GGUF weights")));
    EXPECT_THAT(select_files({"config.json", "pytorch_model.bin"}, "", {"*.bin"}, {}, "org/old").files,
                ElementsAre("config.json", "pytorch_model.bin"));
}

const std::vector<std::string> kGgufRepo = {"README.md",
                                            "Model-IQ4_XS.gguf",
                                            "Model-Q4_K_S.gguf",
                                            "Model-Q4_K_M.gguf",
                                            "Model-Q8_0.gguf",
                                            "Model-f16.gguf",
                                            "mmproj-Model-f16.gguf",
                                            "Q6_K/Model-Q6_K-00001-of-00002.gguf",
                                            "Q6_K/Model-Q6_K-00002-of-00002.gguf"};

TEST(GgufChoice, TagMatchesBetweenSeparatorsCaseInsensitively) {
    std::string note;
    EXPECT_THAT(choose_gguf(kGgufRepo, "q4_k_s", "org/m", &note), ElementsAre("Model-Q4_K_S.gguf"));
    EXPECT_THAT(choose_gguf(kGgufRepo, "Q4_K_M", "org/m", &note), ElementsAre("Model-Q4_K_M.gguf"));
    EXPECT_THAT(choose_gguf(kGgufRepo, "IQ4_XS", "org/m", &note), ElementsAre("Model-IQ4_XS.gguf"));
    EXPECT_THAT(choose_gguf(kGgufRepo, "F16", "org/m", &note), ElementsAre("Model-f16.gguf"));  // not the projector
    EXPECT_THAT(choose_gguf(kGgufRepo, "Q6_K", "org/m", &note),
                ElementsAre("Q6_K/Model-Q6_K-00001-of-00002.gguf", "Q6_K/Model-Q6_K-00002-of-00002.gguf"));
    EXPECT_THAT([] { choose_gguf(kGgufRepo, "Q4_K", "org/m", nullptr); },
                ::testing::ThrowsMessage<Error>(HasSubstr("no .gguf file for quantization 'Q4_K'")));
}

TEST(GgufChoice, DefaultIsQ4KMThenQ8ThenTheFirst) {
    std::string note;
    EXPECT_THAT(choose_gguf(kGgufRepo, "", "org/m", &note), ElementsAre("Model-Q4_K_M.gguf"));
    EXPECT_THAT(note, HasSubstr("Q4_K_M by default"));
    EXPECT_THAT(choose_gguf({"a-Q8_0.gguf", "a-Q2_K.gguf"}, "", "org/m", &note), ElementsAre("a-Q8_0.gguf"));
    EXPECT_THAT(choose_gguf({"b-Q5_K_M.gguf", "a-Q2_K.gguf"}, "", "org/m", &note), ElementsAre("a-Q2_K.gguf"));
    EXPECT_THAT(note, HasSubstr("the first"));
    note.clear();
    EXPECT_THAT(choose_gguf({"only-Q5_K_M.gguf"}, "Q5_K_M", "org/m", &note), ElementsAre("only-Q5_K_M.gguf"));
    EXPECT_EQ(note, "");  // nothing to choose between: nothing to say
}

TEST(GgufChoice, RepositoryWithBothTakesSafetensorsUnlessTagged) {
    const std::vector<std::string> both = {"config.json", "model.safetensors", "tokenizer.json", "m-q8_0.gguf"};
    EXPECT_THAT(select_files(both, "", {}, {}, "org/m").files,
                ElementsAre("config.json", "model.safetensors", "tokenizer.json"));
    EXPECT_THAT(select_files(both, "Q8_0", {}, {}, "org/m").files, ElementsAre("m-q8_0.gguf"));
}

}  // namespace
}  // namespace slm::hub
