// The architecture rows of the newer families bound without transformers: HF directories made
// here from the tiny llama fixture's weights under each family's names. Phi-3's fused projections
// give the separate ones' logits; Gemma 2's post-norms and per-layer windows bind as the row and
// the config say; GGUF metadata gives the same facts; what is not run yet (partial rotary) is
// refused by name.
#include "model/architecture.h"
#include "model/fixture_models.h"
#include "model/model_weights.h"
#include "testing/testing.h"

#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>
#include <slm/safetensors.h>
#include <slm/session.h>

#include <fmt/format.h>
#include <gmock/gmock.h>

#include <filesystem>
#include <functional>
#include <map>

namespace slm::test {
namespace {

using ::testing::HasSubstr;
using model::WeightRole;

// Float copies of the llama fixture's tensors by HF name.
std::map<std::string, std::vector<float>> llama_tensors(std::map<std::string, std::vector<int64_t>>& shapes) {
    ModelFiles files = ModelFiles::open(fixture_model_dir("llama"));
    std::map<std::string, std::vector<float>> out;
    for (const std::string& name : files.tensors->tensor_names()) {
        const Tensor t = *files.tensors->find_tensor(name);
        std::vector<float>& v = out[name];
        v.resize(size_t(t.numel()));
        traits(t.dtype).to_float(t.data, v.data(), t.numel());
        shapes[name] = t.shape;
    }
    return out;
}

// Writes an HF directory: the llama fixture's config.json with `config_changes` merged in, and
// the given f32 tensors.
std::string write_hf_dir(const std::string& name, const nlohmann::json& config_changes,
                         const std::map<std::string, std::vector<float>>& tensors,
                         const std::map<std::string, std::vector<int64_t>>& shapes) {
    const std::string dir = temp_dir() + "/" + name;
    std::filesystem::create_directories(dir);
    nlohmann::json config = read_json(fixture_model_dir("llama") + "/config.json");
    config.merge_patch(config_changes);
    write_file_atomic(dir + "/config.json", config.dump(1));
    SafetensorsWriter w;
    for (const auto& [tensor, values] : tensors) w.add_tensor(tensor, DType::f32, shapes.at(tensor), values.data());
    w.write(dir + "/model.safetensors");
    return dir;
}

std::vector<float> concat(const std::vector<float>& a, const std::vector<float>& b) {
    std::vector<float> out = a;
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

std::vector<float> prompt_logits(const Model& model, int n_ctx = 0) {
    SessionOptions opt;
    opt.kv_dtype = DType::f32;
    opt.threads = 1;
    opt.n_ctx = n_ctx;
    Session session(model, opt);
    Batch batch;
    const int32_t ids[] = {1, 17, 200, 33, 4, 99, 150, 7, 64, 250, 3, 128};
    for (int32_t t = 0; t < 12; ++t) batch.add(ids[t], t, 0, true);
    return session.forward(batch);
}

std::string load_error(ModelFiles files) {
    try {
        Model model(std::move(files));
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(FamilyBinding, Phi3FusedProjectionsGiveTheSeparateOnesLogits) {
    std::map<std::string, std::vector<int64_t>> shapes;
    std::map<std::string, std::vector<float>> t = llama_tensors(shapes);
    for (int l = 0; l < 2; ++l) {
        auto name = [&](WeightRole r) { return model::tensor_name(r, TensorNaming::hf, l); };
        const std::string qkv = name(WeightRole::attn_qkv), gate_up = name(WeightRole::ffn_gate_up);
        t[qkv] = concat(concat(t[name(WeightRole::attn_q)], t[name(WeightRole::attn_k)]), t[name(WeightRole::attn_v)]);
        shapes[qkv] = {3 * 64, 64};
        t[gate_up] = concat(t[name(WeightRole::ffn_gate)], t[name(WeightRole::ffn_up)]);
        shapes[gate_up] = {2 * 96, 64};
        for (WeightRole r : {WeightRole::attn_q, WeightRole::attn_k, WeightRole::attn_v, WeightRole::ffn_gate, WeightRole::ffn_up})
            t.erase(name(r));
    }
    const std::string dir = write_hf_dir("phi3_fused", {{"model_type", "phi3"}}, t, shapes);
    const auto phi3 = Model::load(dir);
    const auto llama = Model::load(fixture_model_dir("llama"));
    EXPECT_EQ(prompt_logits(*phi3), prompt_logits(*llama));
}

// A Gemma 2 directory from the llama weights: its four norms per layer, GeGLU, soft-capping.
std::string gemma2_dir(const std::string& name, const nlohmann::json& changes) {
    std::map<std::string, std::vector<int64_t>> shapes;
    std::map<std::string, std::vector<float>> t = llama_tensors(shapes);
    for (int l = 0; l < 2; ++l) {
        const std::string prefix = fmt::format("model.layers.{}.", l);
        // llama's post_attention_layernorm is its pre-MLP norm; Gemma 2 names that one
        // pre_feedforward_layernorm and gives the name to the norm of the attention output.
        t[prefix + "pre_feedforward_layernorm.weight"] = t[prefix + "post_attention_layernorm.weight"];
        t[prefix + "post_feedforward_layernorm.weight"] = t[prefix + "input_layernorm.weight"];
        for (const std::string n : {"pre_feedforward_layernorm.weight", "post_feedforward_layernorm.weight"})
            shapes[prefix + n] = {64};
    }
    t.erase("lm_head.weight");  // tied
    nlohmann::json config = {{"model_type", "gemma2"},        {"hidden_activation", "gelu_pytorch_tanh"},
                             {"sliding_window", 4},           {"query_pre_attn_scalar", 24},
                             {"attn_logit_softcapping", 3.0}, {"final_logit_softcapping", 2.5},
                             {"tie_word_embeddings", nullptr}};
    if (!changes.is_null()) config.merge_patch(changes);
    return write_hf_dir(name, config, t, shapes);
}

TEST(FamilyBinding, Gemma2BindsPostNormsWindowsAndCapsTheLogits) {
    const auto model = Model::load(gemma2_dir("gemma2_pattern", {}));
    // No layer_types: the row's pattern, even layers slide.
    EXPECT_EQ(model->layer_window(0), 4);
    EXPECT_EQ(model->layer_window(1), 0);
    EXPECT_EQ(model->config().hidden_act, "gelu_pytorch_tanh");  // hidden_activation, Gemma 2's field
    const LayerWeights& w = model->weights().layers[0];
    ASSERT_EQ(w.attn_post_norm.size(), 64u);
    ASSERT_EQ(w.ffn_post_norm.size(), 64u);
    // Stored as the w of x·(1 + w): bound as 1 + w. The attention post-norm is the file's
    // post_attention_layernorm, i.e. the llama fixture's pre-MLP norm.
    std::map<std::string, std::vector<int64_t>> shapes;
    const auto llama = llama_tensors(shapes);
    EXPECT_EQ(w.attn_post_norm[5], 1.0f + llama.at("model.layers.0.post_attention_layernorm.weight")[5]);
    EXPECT_EQ(w.ffn_norm[5], 1.0f + llama.at("model.layers.0.post_attention_layernorm.weight")[5]);
    EXPECT_EQ(model->weights().output.data, model->weights().token_embedding.data);  // tied by default
    const std::vector<float> logits = prompt_logits(*model);
    for (float v : logits) ASSERT_LE(std::abs(v), 2.5f);

    const auto typed = Model::load(gemma2_dir("gemma2_typed", {{"layer_types", {"full_attention", "sliding_attention"}}}));
    EXPECT_EQ(typed->layer_window(0), 0);
    EXPECT_EQ(typed->layer_window(1), 4);
}

TEST(FamilyBinding, LongropePicksItsFactorsByTheContextLength) {
    std::map<std::string, std::vector<int64_t>> shapes;
    const auto t = llama_tensors(shapes);
    nlohmann::json rope = {{"rope_type", "longrope"}, {"rope_theta", 10000.0}, {"original_max_position_embeddings", 32},
                           {"short_factor", std::vector<double>(8, 1.0)}, {"long_factor", std::vector<double>(8, 4.0)}};
    const auto model = Model::load(write_hf_dir("llama_longrope", {{"rope_parameters", rope}}, t, shapes));
    ASSERT_EQ(model->rope_long_inv_freq().size(), 8u);
    EXPECT_FLOAT_EQ(model->rope_long_inv_freq()[3], model->rope_inv_freq()[3] / 4.0f);
    EXPECT_EQ(model->rope_long_context(), 32);
    // max 128 / original 32: cos and sin times sqrt(1 + ln 4 / ln 32).
    EXPECT_NEAR(model->rope_mscale(), std::sqrt(1.0 + std::log(4.0) / std::log(32.0)), 1e-6);
    // Short factors of 1: within 32 positions the logits are the llama fixture's, but for cos and sin's scale.
    EXPECT_NE(prompt_logits(*model, 32), prompt_logits(*model, 33));
}

// The keys and tensors llama.cpp's converter writes for these families, and what slm reads from them.
TEST(FamilyBinding, GgufMetadataGivesTheFamiliesFacts) {
    auto config_of = [](const std::string& arch, int layers, const std::function<void(GgufWriter&)>& more) {
        GgufWriter w;
        w.set("general.architecture", GgufWriter::str(arch));
        auto key = [&](const char* k) { return arch + "." + k; };
        w.set(key("block_count"), GgufWriter::u32(uint32_t(layers)));
        w.set(key("context_length"), GgufWriter::u32(128));
        w.set(key("embedding_length"), GgufWriter::u32(4608));
        w.set(key("feed_forward_length"), GgufWriter::u32(96));
        w.set(key("attention.head_count"), GgufWriter::u32(32));
        w.set(key("attention.key_length"), GgufWriter::u32(128));
        w.set(key("vocab_size"), GgufWriter::u32(256));
        more(w);
        const std::string path = fmt::format("{}/{}-{}.gguf", temp_dir(), arch, layers);
        w.write(path);
        return config_from_gguf(*GgufFile::open(path));
    };
    // Gemma 2: soft-capping keys; query_pre_attn_scalar as llama.cpp's graph takes it (27B: D / H),
    // or from attention.scale where slm wrote one.
    const ModelConfig g27 = config_of("gemma2", 46, [](GgufWriter& w) {
        w.set("gemma2.attn_logit_softcapping", GgufWriter::f32(50));
        w.set("gemma2.final_logit_softcapping", GgufWriter::f32(30));
    });
    EXPECT_EQ(g27.attn_logit_softcapping, 50);
    EXPECT_EQ(g27.final_logit_softcapping, 30);
    EXPECT_EQ(g27.query_pre_attn_scalar, 144);
    EXPECT_EQ(config_of("gemma2", 26, [](GgufWriter&) {}).query_pre_attn_scalar, 0);
    EXPECT_NEAR(config_of("gemma2", 2, [](GgufWriter& w) { w.set("gemma2.attention.scale", GgufWriter::f32(0.25f)); })
                    .query_pre_attn_scalar,
                16, 1e-5);
    // Phi-3: longrope from the factor tensors, the original context and attention factor from keys.
    const std::vector<float> long_f = {1, 2, 4, 8}, short_f = {1, 1.5, 2, 2.5};
    const ModelConfig phi3 = config_of("phi3", 2, [&](GgufWriter& w) {
        w.set("phi3.rope.scaling.original_context_length", GgufWriter::u32(32));
        w.set("phi3.rope.scaling.attn_factor", GgufWriter::f32(1.25f));
        w.add_tensor("rope_factors_long.weight", DType::f32, {4}, long_f.data());
        w.add_tensor("rope_factors_short.weight", DType::f32, {4}, short_f.data());
    });
    EXPECT_EQ(phi3.rope_scaling.type, "longrope");
    EXPECT_EQ(phi3.rope_scaling.long_factor, (std::vector<double>{1, 2, 4, 8}));
    EXPECT_EQ(phi3.rope_scaling.short_factor, (std::vector<double>{1, 1.5, 2, 2.5}));
    EXPECT_EQ(phi3.rope_scaling.original_max_position, 32);
    EXPECT_EQ(phi3.rope_scaling.attention_factor, 1.25);
}

TEST(FamilyBinding, GgufRowsStoreNormsAndActivationsAsLlamaCppDoes) {
    const model::Architecture& gemma = model::find_architecture("gemma", "t");
    EXPECT_EQ(gemma.hf_norm, model::NormWeight::one_plus);
    EXPECT_EQ(gemma.gguf_norm, model::NormWeight::scale);
    EXPECT_EQ(gemma.gguf_activation, "gelu_pytorch_tanh");
    const model::Architecture& phi3 = model::find_architecture("phi3", "t");
    EXPECT_EQ(model::tensor_name(phi3, WeightRole::ffn_gate_up, TensorNaming::gguf, 3), "blk.3.ffn_up.weight");
    EXPECT_EQ(model::tensor_name(phi3, WeightRole::attn_qkv, TensorNaming::gguf, 3), "blk.3.attn_qkv.weight");
    EXPECT_EQ(model::tensor_name(phi3, WeightRole::rope_factors_long, TensorNaming::gguf), "rope_factors_long.weight");
}

TEST(FamilyBinding, PartialRotaryAndUnknownActivationsAreRefused) {
    ModelFiles files = ModelFiles::open(fixture_model_dir("llama"));
    files.config.partial_rotary_factor = 0.5;
    EXPECT_THAT(load_error(std::move(files)), HasSubstr("partial_rotary_factor 0.5"));
    files = ModelFiles::open(fixture_model_dir("llama"));
    files.config.hidden_act = "relu2";
    EXPECT_THAT(load_error(std::move(files)), HasSubstr("activation 'relu2' is not supported"));
}

TEST(FamilyBinding, OnlyPlainLlamaRowsAndConfigsAreLlamaForwards) {
    ModelConfig c = ModelFiles::open(fixture_model_dir("llama")).config;
    EXPECT_TRUE(model::is_llama_forward(model::find_architecture("llama", "t"), c));
    EXPECT_TRUE(model::is_llama_forward(model::find_architecture("qwen2", "t"), c));
    for (const char* arch : {"gemma", "gemma2", "phi3"})
        EXPECT_FALSE(model::is_llama_forward(model::find_architecture(arch, "t"), c)) << arch;
    c.attn_logit_softcapping = 50;
    EXPECT_FALSE(model::is_llama_forward(model::find_architecture("llama", "t"), c));
    c.attn_logit_softcapping = 0;
    c.layer_types = {"sliding_attention", "full_attention"};
    EXPECT_FALSE(model::is_llama_forward(model::find_architecture("qwen2", "t"), c));
}

TEST(FamilyBinding, ConfigsGiveTheFamiliesFacts) {
    const ModelConfig phi3 = parse_hf_config(R"({"model_type": "phi3", "vocab_size": 32064, "hidden_size": 3072,
        "intermediate_size": 8192, "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 131072,
        "original_max_position_embeddings": 4096, "hidden_act": "silu", "sliding_window": 262144,
        "rope_scaling": {"type": "su", "short_factor": [1.0, 1.5], "long_factor": [2.0, 3.0]}})", "config.json");
    EXPECT_EQ(phi3.rope_scaling.type, "longrope");
    EXPECT_EQ(phi3.rope_scaling.short_factor, (std::vector<double>{1.0, 1.5}));
    EXPECT_EQ(phi3.rope_scaling.long_factor, (std::vector<double>{2.0, 3.0}));
    EXPECT_EQ(phi3.rope_scaling.original_max_position, 4096);
    EXPECT_EQ(phi3.rope_scaling.factor, 0.0);  // absent: derived from the context lengths

    const ModelConfig gemma2 = parse_hf_config(R"({"model_type": "gemma2", "vocab_size": 256000, "hidden_size": 2304,
        "intermediate_size": 9216, "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4,
        "head_dim": 256, "hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": 256,
        "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "sliding_window": 4096})", "config.json");
    EXPECT_EQ(gemma2.hidden_act, "gelu_pytorch_tanh");
    EXPECT_EQ(gemma2.query_pre_attn_scalar, 256);
    EXPECT_EQ(gemma2.attn_logit_softcapping, 50);
    EXPECT_EQ(gemma2.final_logit_softcapping, 30);
    EXPECT_TRUE(gemma2.layer_types.empty());

    const ModelConfig gemma = parse_hf_config(R"({"model_type": "gemma", "vocab_size": 256000, "hidden_size": 2048,
        "intermediate_size": 16384, "num_hidden_layers": 18, "num_attention_heads": 8, "num_key_value_heads": 1,
        "head_dim": 256, "hidden_act": "gelu_pytorch_tanh", "hidden_activation": null})", "config.json");
    EXPECT_EQ(gemma.hidden_act, "gelu_pytorch_tanh");
}

}  // namespace
}  // namespace slm::test
