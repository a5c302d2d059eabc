// `slm info` on every shared model form and GGUF (JSON parsed and checked), its errors and exit
// codes; and the CLI frame's conventions (unknown verb exits 2 with one line; --version).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli/run_slm.h"
#include "testing/testing.h"

namespace slm {
namespace {

using nlohmann::json;
using test::quoted;
using test::run_slm;
using ::testing::HasSubstr;

json info_json(const std::string& path) {
    const auto r = run_slm("info --json " + quoted(path));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
}

int count_lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

TEST(CliInfo, DescribesTheSharedLlamaInEveryForm) {
    SLM_REQUIRE_SHARED(shared);
    const std::string dir = shared + "/models/tinyllama-spm-13m";
    const json from_dir = info_json(dir), from_gguf = info_json(dir + "/tinyllama-spm-13m-q8_0.gguf");
    for (const json& info : {from_dir, info_json(dir + "/model.safetensors"), from_gguf}) {
        SCOPED_TRACE(info["path"].get<std::string>());
        EXPECT_EQ(info["architecture"], "llama");
        EXPECT_EQ(info["layers"], 6);
        EXPECT_EQ(info["heads"], 8);
        EXPECT_EQ(info["kv_heads"], 4);
        EXPECT_EQ(info["head_dim"], 32);
        EXPECT_EQ(info["hidden_size"], 256);
        EXPECT_EQ(info["intermediate_size"], 704);
        EXPECT_EQ(info["vocab_size"], 32000);
        EXPECT_EQ(info["context_length"], 1024);
        EXPECT_EQ(info["rope"]["theta"], 10000.0);
        EXPECT_EQ(info["tied_embeddings"], true);
        // 12.6 M parameters (README); tied, so the embedding is counted once.
        EXPECT_GT(info["parameters"].get<int64_t>(), 12'000'000);
        EXPECT_LT(info["parameters"].get<int64_t>(), 13'000'000);
        EXPECT_EQ(info["tokenizer"]["special_tokens"]["bos"]["token"], "<s>");
        EXPECT_EQ(info["tokenizer"]["special_tokens"]["bos"]["id"], 1);
        EXPECT_EQ(info["tokenizer"]["special_tokens"]["eos"]["id"], 2);
        EXPECT_EQ(info["chat_template"]["present"], false);
    }
    EXPECT_EQ(from_dir["weight_dtype"], "bf16");
    EXPECT_EQ(from_dir["tokenizer"]["type"], "BPE");
    EXPECT_EQ(from_gguf["weight_dtype"], "q8_0");
    EXPECT_EQ(from_gguf["tokenizer"]["type"], "llama");
    EXPECT_EQ(from_gguf["file_bytes"], 14144864);
}

// What the newer families add (tests/fixtures/families): Gemma 3's sliding layers and their rope
// base, its query scale; Phi-2's partial rotary and its activation.
TEST(CliInfo, DescribesWhatTheFamiliesDiffer) {
    const json gemma3 = info_json(test::fixtures_dir() + "/families/gemma3");
    EXPECT_EQ(gemma3["architecture"], "gemma3");
    EXPECT_EQ(gemma3["rope"]["local_theta"], 10000.0);
    EXPECT_EQ(gemma3["rope"]["scaling"], "linear");
    EXPECT_EQ(gemma3["sliding_layers"], json({0, 1, 2, 3, 4}));
    EXPECT_EQ(gemma3["query_pre_attn_scalar"], 24.0);
    EXPECT_FALSE(gemma3.contains("final_logit_softcapping"));
    const json phi2 = info_json(test::fixtures_dir() + "/families/phi2");
    EXPECT_EQ(phi2["architecture"], "phi2");
    EXPECT_EQ(phi2["rope"]["dimensions"], 8);
    EXPECT_EQ(phi2["hidden_act"], "gelu_new");
    EXPECT_EQ(phi2["attention_bias"], true);  // always, though its config does not say
}

TEST(CliInfo, DescribesTheSharedQwen2) {
    SLM_REQUIRE_SHARED(shared);
    const std::string dir = shared + "/models/tinyqwen2-bpe-11m";
    const json info = info_json(dir);
    EXPECT_EQ(info["architecture"], "qwen2");
    EXPECT_EQ(info["kv_heads"], 1);
    EXPECT_EQ(info["head_dim"], 64);
    EXPECT_EQ(info["attention_bias"], true);
    EXPECT_EQ(info["rope"]["theta"], 1e6);
    EXPECT_EQ(info["chat_template"]["present"], true);
    EXPECT_EQ(info["chat_template"]["source"], "chat_template.jinja");
    EXPECT_EQ(info["tokenizer"]["special_tokens"]["eos"]["token"], "<|endoftext|>");
    EXPECT_EQ(info["tokenizer"]["special_tokens"]["eos"]["id"], 0);
    const json gguf = info_json(dir + "/tinyqwen2-bpe-11m-q8_0.gguf");
    EXPECT_EQ(gguf["tokenizer"]["type"], "gpt2");
    EXPECT_EQ(gguf["tokenizer"]["pre"], "qwen2");
    EXPECT_EQ(gguf["parameters"], info["parameters"]);
}

TEST(CliInfo, DescribesEveryVocabOnlyGguf) {
    SLM_REQUIRE_SHARED(shared);
    int seen = 0;
    for (const auto& entry : std::filesystem::directory_iterator(shared + "/vocab-tests")) {
        if (entry.path().extension() != ".gguf") continue;
        SCOPED_TRACE(entry.path().string());
        const json info = info_json(entry.path().string());
        EXPECT_EQ(info["vocab_only"], true);
        EXPECT_EQ(info["tensor_count"], 0);
        EXPECT_FALSE(info["architecture"].get<std::string>().empty());
        EXPECT_GT(info["vocab_size"].get<int64_t>(), 1000);
        EXPECT_TRUE(info["tokenizer"].contains("type"));
        const auto text = run_slm("info " + quoted(entry.path().string()));
        EXPECT_EQ(text.exit_code, 0);
        EXPECT_THAT(text.out, HasSubstr("vocabulary only"));
        ++seen;
    }
    EXPECT_GE(seen, 7);
}

TEST(CliInfo, TensorsFlagListsEveryTensor) {
    SLM_REQUIRE_SHARED(shared);
    const std::string gguf = shared + "/models/tinyllama-spm-13m/tinyllama-spm-13m-q8_0.gguf";
    const auto r = run_slm("info --tensors " + quoted(gguf));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("blk.0.attn_q.weight"));
    EXPECT_THAT(r.out, HasSubstr("[256, 256]"));
    const json info = json::parse(run_slm("info --json --tensors " + quoted(gguf)).out);
    ASSERT_EQ(info["tensors"].size(), 56u);
    EXPECT_EQ(info["tensors"][0]["bytes"].get<int64_t>() > 0, true);
}

TEST(CliInfo, ErrorsExitOneWithOneLineNamingThePath) {
    const std::string tmp = test::temp_dir();
    const auto missing = run_slm("info " + quoted(tmp + "/absent.gguf"));
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_THAT(missing.err, HasSubstr(tmp + "/absent.gguf"));
    EXPECT_EQ(count_lines(missing.err), 1);

    const std::string dir = tmp + "/dir-without-config";
    std::filesystem::create_directories(dir);
    const auto no_config = run_slm("info " + quoted(dir));
    EXPECT_EQ(no_config.exit_code, 1);
    EXPECT_THAT(no_config.err, HasSubstr("config.json"));

    const std::string corrupt = tmp + "/corrupt.gguf";
    std::ofstream(corrupt) << "GGUF\x03\x00\x00\x00garbage";
    const auto bad = run_slm("info " + quoted(corrupt));
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_THAT(bad.err, HasSubstr(corrupt));
    EXPECT_EQ(count_lines(bad.err), 1);

    const auto usage = run_slm("info");
    EXPECT_EQ(usage.exit_code, 2);
}

TEST(CliFrame, UnknownVerbExitsTwoWithOneLine) {
    const auto r = run_slm("bogus");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("bogus"));
}

TEST(CliFrame, VersionPrintsOneLine) {
    const auto r = run_slm("--version");
    EXPECT_EQ(r.exit_code, 0);
    ASSERT_FALSE(r.out.empty());
    EXPECT_EQ(r.out.back(), '\n');
    EXPECT_THAT(r.out, HasSubstr("slm "));
}

}  // namespace
}  // namespace slm
