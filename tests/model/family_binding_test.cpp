// The architecture rows of the newer families bound without transformers: HF directories made
// here from the tiny llama fixture's weights under each family's names. Phi-3's fused projections
// give the separate ones' logits; Gemma 2's post-norms and per-layer windows bind as the row and
// the config say; GGUF metadata gives the same facts (Gemma 3's windows and local rope, Phi-2's
// partial rotary and LayerNorm epsilon); what cannot run (a rotary part of odd width, an unknown
// activation) is refused by name.
#include "model/architecture.h"
#include "model/fixture_models.h"
#include "model/model_weights.h"
#include "testing/testing.h"

#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/lora_adapter.h>
#include <slm/lora_stack.h>
#include <slm/gguf.h>
#include <slm/safetensors.h>
#include <slm/session.h>

#include <fmt/format.h>
#include <gmock/gmock.h>

#include <filesystem>
#include <functional>
#include <map>
#include <random>

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

// LoRA on Phi-3's fused modules (PEFT targets qkv_proj and gate_up_proj, the linears it has):
// B's rows are split into the q/k/v and gate/up parts' updates, and the adapted model computes
// what the merged weights W + s·B·A compute.
TEST(FamilyBinding, Phi3FusedLoraModulesEqualTheirMergedWeights) {
    const std::string fixture = fixtures_dir() + "/families/phi3";
    const auto base = Model::load(fixture);
    const ModelConfig& c = base->config();
    const int64_t D = c.hidden_size, rank = 2;
    const int64_t qkv_rows = int64_t(c.num_heads + 2 * c.num_kv_heads) * c.head_dim, gate_up_rows = 2 * c.intermediate_size;
    auto adapter = std::make_shared<LoraAdapter>();
    auto random_floats = [](size_t n, uint32_t seed) {
        std::mt19937 rng(seed);
        std::normal_distribution<float> normal(0.0f, 0.3f);
        std::vector<float> v(n);
        for (float& x : v) x = normal(rng);
        return v;
    };
    auto module = [&](const std::string& name, int64_t out, uint32_t seed) {
        LoraModule m;
        m.module = name;
        m.rank = rank, m.in_features = D, m.out_features = out, m.scale = 0.75f;
        m.a = random_floats(size_t(rank * D), seed);
        m.b = random_floats(size_t(out * rank), seed + 1);
        for (float& v : m.b) v *= 0.5f;
        adapter->modules.push_back(m);
    };
    module("model.layers.0.self_attn.qkv_proj", qkv_rows, 5);
    module("model.layers.1.mlp.gate_up_proj", gate_up_rows, 7);

    // The merged directory: the fixture's tensors with W += s·B·A on the two modules.
    std::map<std::string, std::vector<float>> tensors;
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const std::string& name : base->files().tensors->tensor_names()) {
        const Tensor t = *base->files().tensors->find_tensor(name);
        tensors[name].resize(size_t(t.numel()));
        traits(t.dtype).to_float(t.data, tensors[name].data(), t.numel());
        shapes[name] = t.shape;
    }
    for (const LoraModule& m : adapter->modules) {
        std::vector<float>& W = tensors.at(m.module + ".weight");
        for (int64_t o = 0; o < m.out_features; ++o)
            for (int64_t i = 0; i < D; ++i) {
                float delta = 0;
                for (int64_t r = 0; r < rank; ++r) delta += m.b[size_t(o * rank + r)] * m.a[size_t(r * D + i)];
                W[size_t(o * D + i)] += m.scale * delta;
            }
    }
    const std::string merged_dir = temp_dir() + "/phi3-lora-merged";
    std::filesystem::create_directories(merged_dir);
    std::filesystem::copy_file(fixture + "/config.json", merged_dir + "/config.json",
                               std::filesystem::copy_options::overwrite_existing);
    SafetensorsWriter w;
    for (const auto& [name, values] : tensors) w.add_tensor(name, DType::f32, shapes.at(name), values.data());
    w.write(merged_dir + "/model.safetensors");
    const auto merged = Model::load(merged_dir);

    auto logits = [](const Model& model, const LoraStack& adapters) {
        SessionOptions opt;
        opt.kv_dtype = DType::f32;
        opt.threads = 1;
        opt.adapters = adapters;
        Session session(model, opt);
        Batch batch;
        for (int32_t t = 0; t < 10; ++t) batch.add((t * 37 + 11) % 250 + 3, t, 0, true);
        return session.forward(batch);
    };
    const std::vector<float> adapted = logits(*base, LoraStack(*base, {{adapter, 1.0f, "fused"}}));
    const std::vector<float> expected = logits(*merged, LoraStack());
    EXPECT_LT(max_abs_diff(adapted, expected), 1e-4f * max_abs(expected));
    EXPECT_GT(max_abs_diff(adapted, logits(*base, LoraStack())), 1e-2f * max_abs(expected));  // the adapter bites
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
    // Gemma 3: the 5:1 pattern is llama.cpp's fixed one unless attention.sliding_window_pattern
    // says otherwise (a period, or a flag per layer); the local rope base from rope.freq_base_swa.
    const ModelConfig g3 = config_of("gemma3", 62, [](GgufWriter&) {});
    EXPECT_TRUE(g3.layer_types.empty());
    EXPECT_EQ(g3.rope_local_theta, 0);
    EXPECT_EQ(g3.query_pre_attn_scalar, 144);  // the 27B's (62 layers) D / H, as llama.cpp takes it
    const ModelConfig g3_period = config_of("gemma3", 4, [](GgufWriter& w) {
        w.set("gemma3.attention.sliding_window_pattern", GgufWriter::u32(2));
        w.set("gemma3.rope.freq_base_swa", GgufWriter::f32(5000));
    });
    EXPECT_EQ(g3_period.layer_types, (std::vector<std::string>{"sliding_attention", "full_attention",
                                                                "sliding_attention", "full_attention"}));
    EXPECT_EQ(g3_period.rope_local_theta, 5000);
    // Phi-2: rope.dimension_count below key_length is partial rotary; its epsilon is LayerNorm's.
    const ModelConfig phi2 = config_of("phi2", 2, [](GgufWriter& w) {
        w.set("phi2.rope.dimension_count", GgufWriter::u32(32));
        w.set("phi2.attention.layer_norm_epsilon", GgufWriter::f32(1e-5f));
    });
    EXPECT_EQ(phi2.partial_rotary_factor, 0.25);
    EXPECT_NEAR(phi2.rms_norm_eps, 1e-5, 1e-12);
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
    const model::Architecture& gemma3 = model::find_architecture("gemma3", "t");
    EXPECT_EQ(model::tensor_name(gemma3, WeightRole::attn_q_norm, TensorNaming::hf, 1), "model.layers.1.self_attn.q_norm.weight");
    EXPECT_EQ(model::tensor_name(gemma3, WeightRole::attn_k_norm, TensorNaming::gguf, 1), "blk.1.attn_k_norm.weight");
    EXPECT_EQ(model::tensor_name(gemma3, WeightRole::ffn_norm, TensorNaming::hf, 1), "model.layers.1.pre_feedforward_layernorm.weight");
    // Phi-2: llama.cpp's names for dense, fc1, fc2 and final_layernorm, with their biases.
    const model::Architecture& phi2 = model::find_architecture("phi2", "t");
    EXPECT_EQ(phi2.gguf_activation, "gelu_new");
    EXPECT_EQ(model::tensor_name(phi2, WeightRole::attn_o, TensorNaming::hf, 2), "model.layers.2.self_attn.dense.weight");
    EXPECT_EQ(model::tensor_name(phi2, WeightRole::ffn_up_bias, TensorNaming::hf, 2), "model.layers.2.mlp.fc1.bias");
    EXPECT_EQ(model::tensor_name(phi2, WeightRole::ffn_down, TensorNaming::gguf, 2), "blk.2.ffn_down.weight");
    EXPECT_EQ(model::tensor_name(phi2, WeightRole::output_norm_bias, TensorNaming::hf), "model.final_layernorm.bias");
    EXPECT_EQ(model::tensor_name(phi2, WeightRole::output_bias, TensorNaming::gguf), "output.bias");
}

TEST(FamilyBinding, OddRotaryWidthsAndUnknownActivationsAreRefused) {
    ModelFiles files = ModelFiles::open(fixture_model_dir("llama"));
    files.config.partial_rotary_factor = 0.2;  // 3.2 of 16 dimensions: int() gives 3, which cannot pair
    EXPECT_THAT(load_error(std::move(files)), HasSubstr("rope turns 3 of head_dim 16 dimensions (partial_rotary_factor 0.2)"));
    files = ModelFiles::open(fixture_model_dir("llama"));
    files.config.hidden_act = "relu2";
    EXPECT_THAT(load_error(std::move(files)), HasSubstr("activation 'relu2' is not supported"));
}

TEST(FamilyBinding, OnlyPlainLlamaRowsAndConfigsAreLlamaForwards) {
    ModelConfig c = ModelFiles::open(fixture_model_dir("llama")).config;
    EXPECT_TRUE(model::is_llama_forward(model::find_architecture("llama", "t"), c));
    EXPECT_TRUE(model::is_llama_forward(model::find_architecture("qwen2", "t"), c));
    for (const char* arch : {"gemma", "gemma2", "gemma3", "phi3", "phi2"})
        EXPECT_FALSE(model::is_llama_forward(model::find_architecture(arch, "t"), c)) << arch;
    c.attn_logit_softcapping = 50;
    EXPECT_FALSE(model::is_llama_forward(model::find_architecture("llama", "t"), c));
    c.attn_logit_softcapping = 0;
    c.layer_types = {"sliding_attention", "full_attention"};
    EXPECT_FALSE(model::is_llama_forward(model::find_architecture("qwen2", "t"), c));
    c.layer_types.clear();
    c.rope_local_theta = 10000;
    EXPECT_FALSE(model::is_llama_forward(model::find_architecture("llama", "t"), c));
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

    // Phi-2 says model_type phi; its partial rotary factor at the top level (transformers 4).
    const ModelConfig phi2 = parse_hf_config(R"({"model_type": "phi", "vocab_size": 51200, "hidden_size": 2560,
        "intermediate_size": 10240, "num_hidden_layers": 32, "num_attention_heads": 32, "hidden_act": "gelu_new",
        "layer_norm_eps": 1e-05, "partial_rotary_factor": 0.4, "rope_theta": 10000.0})", "config.json");
    EXPECT_EQ(phi2.architecture, "phi2");
    EXPECT_EQ(phi2.partial_rotary_factor, 0.4);
    EXPECT_EQ(phi2.rms_norm_eps, 1e-5);

    // A multimodal Gemma 3 config as google/gemma-3-4b-it writes it: the text part under
    // text_config naming only what differs from Gemma3TextConfig's defaults (no vocab_size, no
    // heads), with the 5:1 pattern as sliding_window_pattern and the global layers' linear scaling.
    const ModelConfig g3 = parse_hf_config(R"({"architectures": ["Gemma3ForConditionalGeneration"],
        "model_type": "gemma3", "eos_token_id": [1, 106], "text_config": {"model_type": "gemma3_text",
        "hidden_size": 2560, "intermediate_size": 10240, "num_hidden_layers": 34, "rope_scaling": {"factor": 8.0,
        "rope_type": "linear"}, "sliding_window": 1024}, "vision_config": {"model_type": "siglip_vision_model"}})",
                                           "config.json");
    EXPECT_EQ(g3.architecture, "gemma3");
    EXPECT_EQ(g3.vocab_size, 262208);
    EXPECT_EQ(g3.num_heads, 8);
    EXPECT_EQ(g3.num_kv_heads, 4);
    EXPECT_EQ(g3.head_dim, 256);
    EXPECT_EQ(g3.query_pre_attn_scalar, 256);
    EXPECT_EQ(g3.rope_theta, 1e6);
    EXPECT_EQ(g3.rope_local_theta, 1e4);
    EXPECT_EQ(g3.rope_scaling.type, "linear");
    EXPECT_EQ(g3.rope_scaling.factor, 8.0);
    EXPECT_EQ(g3.sliding_window, 1024);
    EXPECT_EQ(g3.eos_token_ids, (std::vector<int>{1, 106}));
    ASSERT_EQ(g3.layer_types.size(), 34u);
    EXPECT_EQ(g3.layer_types[4], "sliding_attention");
    EXPECT_EQ(g3.layer_types[5], "full_attention");
    EXPECT_EQ(g3.hidden_act, "gelu_pytorch_tanh");
}

}  // namespace
}  // namespace slm::test
