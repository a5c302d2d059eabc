// The quantization mixes choose, tensor by tensor, the types llama.cpp's llama-quantize chose for
// the shared models (tests/fixtures/quant/recipes.json, made by make_recipe_fixtures.py).
#include "quant/recipe.h"

#include <slm/error.h>

#include "testing/testing.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace slm;
using namespace slm::quant;

namespace {

nlohmann::json load_recipes() {
    std::ifstream in(test::fixtures_dir() + "/quant/recipes.json");
    EXPECT_TRUE(in.good());
    return nlohmann::json::parse(in);
}

// ggml_n_dims of a shape given innermost first: trailing dimensions of size 1 do not count.
int ggml_dims(const std::vector<int64_t>& ne) {
    int n = int(ne.size());
    while (n > 1 && ne[size_t(n - 1)] == 1) --n;
    return n;
}

}  // namespace

TEST(QuantRecipe, TypesMatchLlamaQuantizeOnSharedModels) {
    const auto recipes = load_recipes();
    ASSERT_FALSE(recipes.empty());
    int checked = 0;
    for (const auto& [model, data] : recipes.items()) {
        const auto& f = data["facts"];
        ModelFacts facts;
        facts.arch = f["arch"].get<std::string>();
        facts.n_layer = f["n_layer"].get<int>();
        facts.n_head = f["n_head"].get<int>();
        facts.n_head_kv = f["n_head_kv"].get<int>();
        facts.n_expert = f["n_expert"].get<int>();
        facts.has_output = f["has_output"].get<bool>();
        for (const auto& [mix_name, mix_data] : data["mixes"].items()) {
            const auto mix = find_mix(mix_name);
            ASSERT_TRUE(mix) << mix_name;
            EXPECT_EQ(mix->file_type, mix_data["file_type"].get<int>()) << mix_name;
            for (const auto& [tensor, type] : mix_data["types"].items()) {
                const auto ne = data["shapes"][tensor].get<std::vector<int64_t>>();
                std::string ours;
                if (is_quantizable(tensor, ggml_dims(ne))) ours = std::string(name(choose_type(*mix, facts, tensor, ne[0]).type));
                else ours = "f32";  // every tensor llama.cpp keeps is f32 in these models
                const std::string expected = type.get<std::string>();
                EXPECT_EQ(ours, expected) << model << " " << mix_name << " " << tensor;
                ++checked;
            }
        }
    }
    EXPECT_GT(checked, 1000);
}

TEST(QuantRecipe, AliasesAndUnknownNames) {
    EXPECT_EQ(find_mix("Q4_K")->name, "q4_k_m");
    EXPECT_EQ(find_mix("q3_k")->name, "q3_k_m");
    EXPECT_EQ(find_mix("q5_k")->name, "q5_k_m");
    EXPECT_EQ(find_mix("q8_0")->file_type, 7);
    EXPECT_FALSE(find_mix("q4_2"));
}

TEST(QuantRecipe, LlamaSevenBLayoutQ4KM) {
    // 32 layers, rows of 4096 (ffn_down rows 11008 = 43 * 256): the textbook q4_k_m choices.
    const auto mix = *find_mix("q4_k_m");
    ModelFacts m{"llama", 32, 32, 32, 0, true};
    EXPECT_EQ(choose_type(mix, m, "output.weight", 4096).type, DType::q6_k);
    EXPECT_EQ(choose_type(mix, m, "token_embd.weight", 4096).type, DType::q4_k);
    EXPECT_EQ(choose_type(mix, m, "blk.0.attn_v.weight", 4096).type, DType::q6_k);   // first eighth
    EXPECT_EQ(choose_type(mix, m, "blk.4.attn_v.weight", 4096).type, DType::q4_k);
    EXPECT_EQ(choose_type(mix, m, "blk.6.attn_v.weight", 4096).type, DType::q6_k);   // (6 - 4) % 3 == 2
    EXPECT_EQ(choose_type(mix, m, "blk.28.ffn_down.weight", 11008).type, DType::q6_k); // last eighth
    EXPECT_EQ(choose_type(mix, m, "blk.5.ffn_down.weight", 11008).type, DType::q4_k);
    EXPECT_EQ(choose_type(mix, m, "blk.5.attn_q.weight", 4096).type, DType::q4_k);
    EXPECT_FALSE(is_quantizable("blk.5.attn_norm.weight", 1));
    EXPECT_FALSE(is_quantizable("blk.5.ffn_gate_inp.weight", 2));
    EXPECT_TRUE(is_quantizable("blk.5.ffn_up.weight", 2));
}

TEST(QuantRecipe, RowLengthFallbacks) {
    const ModelFacts m{"llama", 8, 8, 8, 0, true};
    EXPECT_EQ(choose_type(*find_mix("q4_k_m"), m, "blk.1.ffn_up.weight", 704).type, DType::q5_0);
    EXPECT_EQ(choose_type(*find_mix("q5_k_s"), m, "blk.1.ffn_up.weight", 704).type, DType::q5_1);
    EXPECT_EQ(choose_type(*find_mix("q6_k"), m, "blk.1.ffn_up.weight", 704).type, DType::q8_0);
    EXPECT_EQ(choose_type(*find_mix("q6_k"), m, "blk.1.ffn_up.weight", 100).type, DType::f16);
    EXPECT_TRUE(choose_type(*find_mix("q6_k"), m, "blk.1.ffn_up.weight", 704).fallback);
    EXPECT_THROW(choose_type(*find_mix("q4_0"), m, "blk.1.ffn_up.weight", 100), Error);
}
