// slm merge (slm/merge.h) on the PEFT fixtures of tests/fixtures/lora: the merged HF directory
// gives PEFT's logits of base + trained adapter (llama with GQA; qwen2 with biases and a tied
// head), as does the merged GGUF (on the shared tinyqwen2: the converter needs a tokenizer); bf16 output keeps the greedy tokens of the f32 merge; an
// adapter that does not fit the base, or a GGUF base, is refused by name.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/lora_adapter.h>
#include <slm/merge.h>
#include <slm/model.h>
#include <slm/thread_pool.h>

#include "testing/testing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <tuple>

namespace slm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string lora_dir(const std::string& rel) { return test::fixtures_dir() + "/lora/" + rel; }

// Logits of every position of `prompt`, [T, V].
std::vector<float> logits_of(const Model& model, const std::vector<int32_t>& prompt, ThreadPool& pool) {
    KvCache cache(model.config(), int(prompt.size()), 1, DType::f32);
    Batch batch;
    for (size_t i = 0; i < prompt.size(); ++i) batch.add(prompt[i], int32_t(i), 0, true);
    std::vector<float> logits;
    model.forward(batch, cache, logits, &pool);
    return logits;
}

// max |a - b| over each row, relative to that row's largest |b|.
double relative_error(const std::vector<float>& a, const std::vector<float>& b, size_t V) {
    EXPECT_EQ(a.size(), b.size());
    double worst = 0;
    for (size_t r = 0; r + V <= std::min(a.size(), b.size()); r += V) {
        double diff = 0, scale = 0;
        for (size_t i = r; i < r + V; ++i) {
            diff = std::max(diff, double(std::fabs(a[i] - b[i])));
            scale = std::max(scale, double(std::fabs(b[i])));
        }
        worst = std::max(worst, diff / scale);
    }
    return worst;
}

std::vector<int> argmax_rows(const std::vector<float>& logits, size_t V) {
    std::vector<int> out;
    for (size_t r = 0; r + V <= logits.size(); r += V)
        out.push_back(int(std::max_element(logits.begin() + long(r), logits.begin() + long(r + V)) - logits.begin() - long(r)));
    return out;
}

class MergeFixture : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        const nlohmann::json ref = nlohmann::json::parse(read_text_file(lora_dir(GetParam() + "/reference.json")));
        prompt = ref["logits_prompt"].get<std::vector<int32_t>>();
        expected = ref["trained_logits"].get<std::vector<float>>();
        options.adapters = {{lora_dir(GetParam() + "/adapter_trained"), 1.0f}};
    }
    std::string base() const { return lora_dir(GetParam() + "/base"); }
    ThreadPool pool{2};
    std::vector<int32_t> prompt;
    std::vector<float> expected;
    MergeOptions options;
};

TEST_P(MergeFixture, MergedHfDirectoryGivesPeftLogits) {
    options.output = test::temp_dir() + "/" + GetParam() + "-merged";
    merge_lora(base(), options, pool);
    for (const char* file : {"config.json", "model.safetensors", "generation_config.json"})
        EXPECT_TRUE(fs::exists(options.output + "/" + file)) << file;
    const auto merged = Model::load(options.output);
    const double err = relative_error(logits_of(*merged, prompt, pool), expected, size_t(merged->vocab_size()));
    std::printf("  %s merged HF: max logit error %.3g\n", GetParam().c_str(), err);
    EXPECT_LE(err, 1e-4);
}

TEST_P(MergeFixture, Bf16MergeKeepsTheGreedyTokens) {
    options.output = test::temp_dir() + "/" + GetParam() + "-merged-bf16";
    options.type = "bf16";
    merge_lora(base(), options, pool);
    const auto merged = Model::load(options.output);
    const nlohmann::json config = nlohmann::json::parse(read_text_file(options.output + "/config.json"));
    EXPECT_EQ(config.contains("dtype") ? config["dtype"] : config["torch_dtype"], "bfloat16");
    const auto V = size_t(merged->vocab_size());
    const std::vector<float> ours = logits_of(*merged, prompt, pool);
    EXPECT_LE(relative_error(ours, expected, V), 5e-2);  // every weight rounded to bf16 (8 bits of mantissa)
    EXPECT_EQ(argmax_rows(ours, V), argmax_rows(expected, V));
}

INSTANTIATE_TEST_SUITE_P(Lora, MergeFixture, ::testing::Values("llama", "qwen2"));

// GGUF output goes through the converter, which needs a tokenizer: the shared tinyqwen2 with a
// random adapter on three roles of every layer; the merged GGUF (f32) must give the merged HF
// directory's logits, and so base + adapter's.
TEST(Merge, MergedGgufGivesTheMergedHfLogits) {
    SLM_REQUIRE_SHARED(shared);
    const std::string base = shared + "/models/tinyqwen2-bpe-11m";
    const ModelConfig config = ModelFiles::open(base).config;
    LoraAdapter adapter;
    adapter.config.r = 4;
    adapter.config.lora_alpha = 8;
    adapter.config.target_modules = {"q_proj", "v_proj", "down_proj"};
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    for (int l = 0; l < config.num_layers; ++l)
        for (auto [name, out, in] : {std::tuple{"self_attn.q_proj", config.num_heads * config.head_dim, config.hidden_size},
                                     std::tuple{"self_attn.v_proj", config.num_kv_heads * config.head_dim, config.hidden_size},
                                     std::tuple{"mlp.down_proj", config.hidden_size, config.intermediate_size}}) {
            LoraModule m;
            m.module = "model.layers." + std::to_string(l) + "." + name;
            m.rank = 4;
            m.in_features = in;
            m.out_features = out;
            m.scale = 2.0f;
            m.a.resize(size_t(4 * in));
            m.b.resize(size_t(out * 4));
            for (float& v : m.a) v = normal(rng);
            for (float& v : m.b) v = normal(rng);
            adapter.modules.push_back(std::move(m));
        }
    const std::string adapter_dir = test::temp_dir() + "/random-adapter";
    adapter.save_peft(adapter_dir);

    ThreadPool pool(2);
    MergeOptions options;
    options.adapters = {{adapter_dir, 1.0f}};
    options.type = "f32";
    options.output = test::temp_dir() + "/tinyqwen2-merged";
    merge_lora(base, options, pool);
    options.output = test::temp_dir() + "/tinyqwen2-merged.gguf";
    merge_lora(base, options, pool);
    EXPECT_FALSE(fs::exists(options.output + ".merge-tmp")) << "the intermediate directory is removed";

    const std::vector<int32_t> prompt = {1, 400, 17, 2000, 33, 5, 812, 96};
    const auto hf = Model::load(test::temp_dir() + "/tinyqwen2-merged");
    const auto gguf = Model::load(options.output);
    const auto original = Model::load(base);
    const auto V = size_t(hf->vocab_size());
    const std::vector<float> a = logits_of(*hf, prompt, pool), b = logits_of(*gguf, prompt, pool);
    EXPECT_LE(relative_error(b, a, V), 1e-4);
    EXPECT_EQ(argmax_rows(b, V), argmax_rows(a, V));
    EXPECT_GT(relative_error(logits_of(*original, prompt, pool), a, V), 1e-3) << "the adapter changed nothing";
}

// transformers reads the HF directory slm merge writes (bf16, as the base) as slm does: the
// logits it gave on the device (tests/fixtures/lora/ours, make_lora_fixtures.py --check-ours)
// for the merge of an adapter slm finetune trained on the shared tinyqwen2. The same positions'
// greedy tokens equal those of PEFT running base + that adapter unmerged.
TEST(Merge, TransformersReadsOurMergedDirectory) {
    SLM_REQUIRE_SHARED(shared);
    const std::string ours = test::fixtures_dir() + "/lora/ours";
    ThreadPool pool(2);
    MergeOptions options;
    options.adapters = {{ours + "/tinyqwen2-squad/adapter", 1.0f}};
    options.output = test::temp_dir() + "/tinyqwen2-squad-merged";
    merge_lora(shared + "/models/tinyqwen2-bpe-11m", options, pool);
    const auto merged = Model::load(options.output);
    const auto V = size_t(merged->vocab_size());

    const nlohmann::json case_json = nlohmann::json::parse(read_text_file(ours + "/merged-tinyqwen2/case.json"));
    const std::vector<float> all = logits_of(*merged, case_json["prompt"].get<std::vector<int32_t>>(), pool);
    auto at_positions = [&](const nlohmann::json& ref) {
        std::vector<float> rows;
        for (int p : ref["positions"]) rows.insert(rows.end(), all.begin() + long(size_t(p) * V), all.begin() + long(size_t(p + 1) * V));
        return rows;
    };
    const nlohmann::json transformers = nlohmann::json::parse(read_text_file(ours + "/merged-tinyqwen2/peft_logits.json"));
    const std::vector<float> ref = transformers["logits"].get<std::vector<float>>();
    const double err = relative_error(at_positions(transformers), ref, V);
    std::printf("  transformers on our merged directory: max logit error %.3g\n", err);
    EXPECT_LE(err, 1e-4);

    const nlohmann::json peft = nlohmann::json::parse(read_text_file(ours + "/tinyqwen2-squad/peft_logits.json"));
    EXPECT_EQ(argmax_rows(at_positions(peft), V), argmax_rows(peft["logits"].get<std::vector<float>>(), V));
}

TEST(Merge, RefusesWhatDoesNotFit) {
    ThreadPool pool(1);
    MergeOptions options;
    options.output = test::temp_dir() + "/refused";
    options.adapters = {{lora_dir("qwen2/adapter_trained"), 1.0f}};  // qwen2 shapes on the llama base
    try {
        merge_lora(lora_dir("llama/base"), options, pool);
        FAIL() << "a qwen2 adapter must not merge into the llama base";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("model.layers."));
    }
    options.adapters = {{lora_dir("llama/adapter_trained"), 1.0f}};
    EXPECT_THROW(merge_lora(lora_dir("llama/base/model.safetensors"), options, pool), Error);
    options.adapters.clear();
    EXPECT_THROW(merge_lora(lora_dir("llama/base"), options, pool), Error);
}

}  // namespace
}  // namespace slm
