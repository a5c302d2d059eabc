// LoraAdapter's PEFT directories: a save/load round trip is bit-exact, adapter_config.json carries
// the fields PEFT reads, rank/alpha patterns and rsLoRA scale as PEFT computes them (the examples
// are worked through peft.utils.other.get_pattern_key and LoraLayer.update_layer), and every
// option or tensor slm cannot reproduce is refused with the file and field named.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/half.h>
#include <slm/lora_adapter.h>
#include <slm/safetensors.h>

#include "testing/testing.h"

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>

using namespace slm;
using ::testing::HasSubstr;

namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
    const std::string dir = test::temp_dir() + "/lora-" + name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

LoraModule random_module(const std::string& path, int64_t rank, int64_t in, int64_t out, float scale, uint32_t seed) {
    LoraModule m;
    m.module = path;
    m.rank = rank;
    m.in_features = in;
    m.out_features = out;
    m.scale = scale;
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    m.a.resize(size_t(rank * in));
    m.b.resize(size_t(out * rank));
    for (float& v : m.a) v = normal(rng);
    for (float& v : m.b) v = normal(rng);
    return m;
}

// An adapter over two layers with a rank_pattern, an alpha_pattern and values that must survive
// bit for bit (a subnormal, -0, the largest float).
LoraAdapter sample_adapter() {
    LoraAdapter ad;
    ad.config.r = 4;
    ad.config.lora_alpha = 8;
    ad.config.lora_dropout = 0.05;
    ad.config.target_modules = {"q_proj", "v_proj", "down_proj"};
    ad.config.rank_pattern = {{"v_proj", 2}};
    ad.config.alpha_pattern = {{"layers.1.mlp.down_proj", 3.5}};
    ad.config.base_model_name_or_path = "tiny/llama";
    for (int layer = 0; layer < 2; ++layer) {
        const std::string p = "model.layers." + std::to_string(layer);
        for (const auto& [name, in, out] : {std::tuple{"self_attn.q_proj", 64, 64}, std::tuple{"self_attn.v_proj", 64, 32},
                                            std::tuple{"mlp.down_proj", 96, 64}}) {
            const std::string module = p + "." + name;
            ad.modules.push_back(random_module(module, ad.config.rank_for(module), in, out,
                                               ad.config.scale_for(module), uint32_t(ad.modules.size() + 1)));
        }
    }
    ad.modules[0].a[0] = std::numeric_limits<float>::denorm_min();
    ad.modules[0].a[1] = -0.0f;
    ad.modules[0].b[0] = std::numeric_limits<float>::max();
    return ad;
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// A PEFT-style directory written by hand: the config text and (name, dtype, shape, bytes) tensors.
struct RawTensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
};

RawTensor f32_tensor(std::string name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.25f * float(i % 7) - 0.5f;
    RawTensor t{std::move(name), DType::f32, std::move(shape), std::vector<uint8_t>(v.size() * 4)};
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
}

void write_dir(const std::string& dir, const std::string& config, const std::vector<RawTensor>& tensors) {
    write_file_atomic(dir + "/adapter_config.json", config);
    SafetensorsWriter w;
    for (const RawTensor& t : tensors) w.add_tensor(t.name, t.dtype, t.shape, t.bytes.data());
    w.write(dir + "/adapter_model.safetensors");
}

// A minimal valid config: r 4, alpha 8, q_proj/v_proj, with `extra` fields merged over it.
std::string config_with(const nlohmann::json& extra) {
    nlohmann::json j = {{"peft_type", "LORA"}, {"r", 4},           {"lora_alpha", 8},
                        {"bias", "none"},      {"use_dora", false}, {"target_modules", {"q_proj", "v_proj"}}};
    if (!extra.is_null()) j.update(extra);  // config_with({}) passes null
    return j.dump();
}

const std::string kQ = "base_model.model.model.layers.0.self_attn.q_proj";

std::vector<RawTensor> q_pair(int64_t rank = 4) {
    return {f32_tensor(kQ + ".lora_A.weight", {rank, 16}), f32_tensor(kQ + ".lora_B.weight", {16, rank})};
}

// Runs `load` and checks that it throws an slm::Error whose message holds every one of `parts`.
void expect_error(const std::function<void()>& load, std::initializer_list<std::string> parts) {
    try {
        load();
        ADD_FAILURE() << "no error thrown";
    } catch (const Error& e) {
        for (const std::string& p : parts) EXPECT_THAT(e.what(), HasSubstr(p));
    }
}

void expect_load_error(const std::string& name, const std::string& config, const std::vector<RawTensor>& tensors,
                       std::initializer_list<std::string> parts) {
    const std::string dir = fresh_dir(name);
    write_dir(dir, config, tensors);
    expect_error([&] { (void)LoraAdapter::load_peft(dir); }, parts);
}

}  // namespace

TEST(LoraAdapter, SaveLoadRoundTripIsBitExact) {
    const LoraAdapter ad = sample_adapter();
    const std::string dir = fresh_dir("roundtrip");
    ad.save_peft(dir);
    const LoraAdapter back = LoraAdapter::load_peft(dir);
    EXPECT_EQ(back.config.r, 4);
    EXPECT_EQ(back.config.lora_alpha, 8);
    EXPECT_EQ(back.config.lora_dropout, 0.05);
    EXPECT_EQ(back.config.target_modules, ad.config.target_modules);
    EXPECT_EQ(back.config.rank_pattern, ad.config.rank_pattern);
    EXPECT_EQ(back.config.alpha_pattern, ad.config.alpha_pattern);
    EXPECT_EQ(back.config.base_model_name_or_path, "tiny/llama");
    EXPECT_EQ(back.config.task_type, "CAUSAL_LM");
    ASSERT_EQ(back.modules.size(), ad.modules.size());
    for (const LoraModule& m : ad.modules) {
        const LoraModule* r = back.find(m.module);
        ASSERT_NE(r, nullptr) << m.module;
        EXPECT_EQ(r->rank, m.rank) << m.module;
        EXPECT_EQ(r->in_features, m.in_features) << m.module;
        EXPECT_EQ(r->out_features, m.out_features) << m.module;
        EXPECT_EQ(r->scale, m.scale) << m.module;
        EXPECT_TRUE(same_bits(r->a, m.a)) << m.module;
        EXPECT_TRUE(same_bits(r->b, m.b)) << m.module;
    }
    // Natural order: layer 0's modules first, and within a layer by path.
    EXPECT_EQ(back.modules.front().module, "model.layers.0.mlp.down_proj");
    EXPECT_EQ(back.modules.back().module, "model.layers.1.self_attn.v_proj");
    EXPECT_EQ(back.find("model.layers.2.mlp.down_proj"), nullptr);

    // The tensors carry PEFT's names, shapes and f32 type.
    const auto file = SafetensorsFile::open(dir + "/adapter_model.safetensors");
    const auto* a = file->find_info("base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight");
    const auto* b = file->find_info("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 64}));
    EXPECT_EQ(b->shape, (std::vector<int64_t>{32, 2}));
    EXPECT_EQ(a->dtype, DType::f32);
    EXPECT_EQ(file->get_metadata("format"), "pt");
    EXPECT_EQ(file->tensor_infos().size(), 12u);
}

TEST(LoraAdapter, ConfigJsonHasTheFieldsPeftReads) {
    const LoraAdapter ad = sample_adapter();
    const auto j = nlohmann::json::parse(lora_config_json(ad.config));
    EXPECT_EQ(j["peft_type"], "LORA");
    EXPECT_EQ(j["r"], 4);
    EXPECT_EQ(j["lora_alpha"], 8);
    EXPECT_TRUE(j["lora_alpha"].is_number_integer());  // an integral alpha stays an int, as PEFT's default
    EXPECT_EQ(j["lora_dropout"], 0.05);
    EXPECT_EQ(j["target_modules"], nlohmann::json({"q_proj", "v_proj", "down_proj"}));
    EXPECT_EQ(j["bias"], "none");
    EXPECT_EQ(j["task_type"], "CAUSAL_LM");
    EXPECT_EQ(j["base_model_name_or_path"], "tiny/llama");
    EXPECT_EQ(j["use_rslora"], false);
    EXPECT_EQ(j["use_dora"], false);
    EXPECT_EQ(j["fan_in_fan_out"], false);
    EXPECT_EQ(j["rank_pattern"], nlohmann::json({{"v_proj", 2}}));
    EXPECT_EQ(j["alpha_pattern"], nlohmann::json({{"layers.1.mlp.down_proj", 3.5}}));
    for (const char* null_field : {"modules_to_save", "layers_to_transform", "layers_pattern", "revision",
                                   "layer_replication"}) {
        ASSERT_TRUE(j.contains(null_field)) << null_field;
        EXPECT_TRUE(j[null_field].is_null()) << null_field;
    }
    EXPECT_EQ(j["init_lora_weights"], true);
    EXPECT_EQ(j["inference_mode"], true);
    // PEFT writes json.dumps(indent=2, sort_keys=True): sorted keys, two-space indent.
    const std::string text = lora_config_json(ad.config);
    EXPECT_THAT(text, HasSubstr("{\n  \"alpha_pattern\": {\n    \"layers.1.mlp.down_proj\": 3.5\n  },\n"));

    // The string (regex) form of target_modules is written back as a string, and read as one.
    LoraConfig c;
    c.target_modules_regex = R"(.*\.(q|v)_proj)";
    const auto k = nlohmann::json::parse(lora_config_json(c));
    EXPECT_EQ(k["target_modules"], R"(.*\.(q|v)_proj)");
    const LoraConfig back = parse_lora_config(lora_config_json(c), "adapter_config.json");
    EXPECT_EQ(back.target_modules_regex, R"(.*\.(q|v)_proj)");
    EXPECT_TRUE(back.target_modules.empty());
}

// Each expectation is what PEFT computes: get_pattern_key tries re.match(rf"(.*\.)?({key})$",
// module) for each key in order, and update_layer sets scaling = alpha / r (alpha / sqrt(r) with
// use_rslora).
TEST(LoraConfig, RankAndScaleFollowPeftsPatternRules) {
    LoraConfig c;
    c.r = 8;
    c.lora_alpha = 16;
    const std::string q0 = "model.layers.0.self_attn.q_proj", q10 = "model.layers.10.self_attn.q_proj";
    const std::string v2 = "model.layers.2.self_attn.v_proj", k0 = "model.layers.0.self_attn.k_proj";
    EXPECT_EQ(c.rank_for(q0), 8);
    EXPECT_EQ(c.scale_for(q0), 2.0f);

    // A short name matches the last path component(s), never a part of one.
    c.rank_pattern = {{"q_proj", 4}, {"proj", 1}, {"layers.0.self_attn.k_proj", 2}};
    EXPECT_EQ(c.rank_for(q0), 4);
    EXPECT_EQ(c.rank_for(q10), 4);
    EXPECT_EQ(c.rank_for(k0), 2);
    EXPECT_EQ(c.rank_for("model.layers.10.self_attn.k_proj"), 8);  // "layers.0." is not a suffix of "layers.10."
    EXPECT_EQ(c.rank_for(v2), 8);  // "proj" must follow a dot: it does not match "v_proj"
    EXPECT_EQ(c.scale_for(q0), 4.0f);  // alpha 16 over the pattern's rank 4

    // Keys are regular expressions.
    c.rank_pattern = {{R"(layers\.[01]\.self_attn\.v_proj)", 2}};
    EXPECT_EQ(c.rank_for("model.layers.1.self_attn.v_proj"), 2);
    EXPECT_EQ(c.rank_for(v2), 8);

    // alpha_pattern overrides lora_alpha; the rank used is the pattern's rank.
    c.rank_pattern = {{"v_proj", 16}};
    c.alpha_pattern = {{"v_proj", 32}, {"k_proj", 4}};
    EXPECT_EQ(c.scale_for(v2), 2.0f);    // 32 / 16
    EXPECT_EQ(c.scale_for(k0), 0.5f);    // 4 / 8
    EXPECT_EQ(c.scale_for(q0), 2.0f);    // 16 / 8

    // rsLoRA: alpha / sqrt(r).
    c.use_rslora = true;
    EXPECT_EQ(c.scale_for(q0), float(16 / std::sqrt(8.0)));
    EXPECT_EQ(c.scale_for(v2), 8.0f);    // 32 / sqrt(16)
    EXPECT_EQ(c.scale_for(k0), float(4 / std::sqrt(8.0)));

    // Of two matching keys the first wins; a std::map holds them sorted, which is also the
    // order save_peft writes them in.
    c = LoraConfig{};
    c.rank_pattern = {{"q_proj", 4}, {"layers.0.self_attn.q_proj", 2}};
    EXPECT_EQ(c.rank_for(q0), 2);  // "layers.0…" sorts before "q_proj"
    EXPECT_EQ(c.rank_for(q10), 4);
}

TEST(LoraAdapter, ReadsF16AndBf16Tensors) {
    const std::string dir = fresh_dir("halves");
    const std::vector<float> values = {0.5f, -1.25f, 3.0f, 0.0f, -0.0625f, 2.5f, 1.0f, -2.0f};
    std::vector<uint16_t> a(values.size()), b(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        a[i] = f32_to_f16(values[i]);
        b[i] = f32_to_bf16(values[i]);
    }
    write_file_atomic(dir + "/adapter_config.json", config_with({{"r", 2}}));
    SafetensorsWriter w;
    w.add_tensor(kQ + ".lora_A.weight", DType::f16, {2, 4}, a.data());
    w.add_tensor(kQ + ".lora_B.weight", DType::bf16, {4, 2}, b.data());
    w.write(dir + "/adapter_model.safetensors");
    const LoraAdapter ad = LoraAdapter::load_peft(dir + "/adapter_config.json");  // a file path names its directory
    ASSERT_EQ(ad.modules.size(), 1u);
    EXPECT_EQ(ad.modules[0].a, values);
    EXPECT_EQ(ad.modules[0].b, values);
    EXPECT_EQ(ad.modules[0].scale, 4.0f);
    EXPECT_EQ(ad.modules[0].in_features, 4);
    EXPECT_EQ(ad.modules[0].out_features, 4);
}

TEST(LoraAdapter, RefusesUnsupportedOptionsNamingTheField) {
    const std::vector<RawTensor> q = q_pair();
    const std::initializer_list<std::pair<const char*, nlohmann::json>> cases = {
        {"use_dora", {{"use_dora", true}}},
        {"bias", {{"bias", "lora_only"}}},
        {"fan_in_fan_out", {{"fan_in_fan_out", true}}},
        {"layer_replication", {{"layer_replication", {{0, 2}, {1, 2}}}}},
        {"peft_type", {{"peft_type", "IA3"}}},
        {"lora_bias", {{"lora_bias", true}}},
        {"init_lora_weights", {{"init_lora_weights", "pissa_niter_4"}}},
        {"alora_invocation_tokens", {{"alora_invocation_tokens", {1, 2}}}},
        {"use_qalora", {{"use_qalora", true}}},
        {"r", {{"r", 0}}},
        {"lora_alpha", {{"lora_alpha", "eight"}}},
        {"target_modules", {{"target_modules", 3}}},
        {"rank_pattern", {{"rank_pattern", {{"q_proj", -1}}}}},
        {"alpha_pattern", {{"alpha_pattern", {{"q_proj", "x"}}}}},
        // Patterns std::regex would take exponential time over (found by fuzz_lora_config).
        {"lay**", {{"rank_pattern", {{"lay**", 2}}}}},
        {"(a*)*", {{"rank_pattern", {{"(a*)*", 2}}}}},
        {"(q|v)+", {{"alpha_pattern", {{"(q|v)+", 2}}}}},
        {"a.*b.*c.*d.*e.*", {{"alpha_pattern", {{"a.*b.*c.*d.*e.*", 2}}}}},
        {"target_modules", {{"target_modules", "(.*)*_proj"}}},
    };
    for (const auto& [field, extra] : cases) {
        SCOPED_TRACE(field);
        expect_load_error(std::string("opt-") + field, config_with(extra), q, {"adapter_config.json", field});
    }
    expect_load_error("no-peft-type", R"({"r": 4})", q, {"adapter_config.json", "peft_type"});
    // What PEFT's own patterns look like stays accepted.
    const LoraConfig ok = parse_lora_config(
        R"({"peft_type": "LORA", "rank_pattern": {"layers\\.\\d+\\.self_attn\\.(q|v)_proj": 4, "mlp.*?proj": 2},
            "target_modules": "^(?!.*vision).*\\.(q|k|v|o)_proj", "alpha_pattern": {"[qk]_proj{1}": 3}})",
        "adapter_config.json");
    EXPECT_EQ(ok.rank_for("model.layers.7.self_attn.v_proj"), 4);
    EXPECT_EQ(ok.rank_for("model.layers.7.mlp.up_proj"), 2);
    EXPECT_EQ(ok.scale_for("model.layers.7.self_attn.k_proj"), 3.0f / 8.0f);
}

TEST(LoraAdapter, RefusesTensorsItCannotApply) {
    const std::vector<RawTensor> q = q_pair();
    auto with = [&](std::vector<RawTensor> extra) {
        std::vector<RawTensor> all = q;
        for (RawTensor& t : extra) all.push_back(std::move(t));
        return all;
    };
    const std::string emb = "base_model.model.model.embed_tokens";
    expect_load_error("embedding", config_with({}),
                      with({f32_tensor(emb + ".lora_embedding_A", {4, 256}), f32_tensor(emb + ".lora_embedding_B", {16, 4})}),
                      {"adapter_model.safetensors", "lora_embedding_A", "embedding LoRA"});
    expect_load_error("dora", config_with({}), with({f32_tensor(kQ + ".lora_magnitude_vector", {16})}),
                      {"adapter_model.safetensors", "DoRA"});
    expect_load_error("modules-to-save", config_with({{"modules_to_save", {"lm_head"}}}),
                      with({f32_tensor("base_model.model.lm_head.weight", {256, 16})}),
                      {"adapter_model.safetensors", "lm_head.weight", "modules_to_save"});
    expect_load_error("lora-bias", config_with({}), with({f32_tensor(kQ + ".lora_B.bias", {16})}),
                      {"adapter_model.safetensors", "lora_B.bias"});
    expect_load_error("bias", config_with({}), with({f32_tensor(kQ + ".base_layer.bias", {16})}),
                      {"adapter_model.safetensors", "base_layer.bias", "bias"});
    expect_load_error("resized-embedding", config_with({}),
                      with({f32_tensor("base_model.model.model.embed_tokens.weight", {300, 16})}),
                      {"adapter_model.safetensors", "embed_tokens.weight", "not a LoRA A/B weight"});
    expect_load_error("no-prefix", config_with({}), with({f32_tensor("model.layers.0.self_attn.k_proj.lora_A.weight", {4, 16})}),
                      {"adapter_model.safetensors", "base_model.model."});
    // A config listing modules_to_save whose copies are absent computes nothing extra: it loads.
    const std::string dir = fresh_dir("modules-to-save-empty");
    write_dir(dir, config_with({{"modules_to_save", {"lm_head"}}}), q);
    EXPECT_EQ(LoraAdapter::load_peft(dir).modules.size(), 1u);
}

TEST(LoraAdapter, RefusesInconsistentModulesNamingThem) {
    const std::string module = "model.layers.0.self_attn.q_proj";
    expect_load_error("a-only", config_with({}), {f32_tensor(kQ + ".lora_A.weight", {4, 16})},
                      {"adapter_model.safetensors", module, "no lora_B"});
    expect_load_error("b-only", config_with({}), {f32_tensor(kQ + ".lora_B.weight", {16, 4})},
                      {"adapter_model.safetensors", module, "no lora_A"});
    expect_load_error("shapes", config_with({}),
                      {f32_tensor(kQ + ".lora_A.weight", {4, 16}), f32_tensor(kQ + ".lora_B.weight", {16, 3})},
                      {"adapter_model.safetensors", module, "[4, 16]", "[16, 3]", "do not agree"});
    expect_load_error("conv", config_with({}),
                      {f32_tensor(kQ + ".lora_A.weight", {4, 16, 1, 1}), f32_tensor(kQ + ".lora_B.weight", {16, 4, 1, 1})},
                      {"adapter_model.safetensors", module, "matrices"});
    expect_load_error("rank", config_with({}), q_pair(2), {"adapter_model.safetensors", module, "rank 2", "rank 4"});
    expect_load_error("rank-pattern", config_with({{"rank_pattern", {{"q_proj", 8}}}}), q_pair(4),
                      {module, "rank_pattern", "rank 8"});
    expect_load_error("untargeted", config_with({{"target_modules", {"k_proj"}}}), q_pair(),
                      {"adapter_model.safetensors", module, "target_modules"});
    expect_load_error("untargeted-regex", config_with({{"target_modules", R"(.*\.v_proj)"}}), q_pair(),
                      {module, "target_modules"});
    expect_load_error("excluded", config_with({{"exclude_modules", {"q_proj"}}}), q_pair(), {module, "exclude_modules"});
    // PEFT takes the first matching pattern in the file's order; slm's map is sorted, so a file
    // whose order would pick differently is refused rather than read with the other rank.
    expect_load_error("pattern-order", R"({"peft_type": "LORA", "r": 8, "rank_pattern": {"q_proj": 4, "layers.0.self_attn.q_proj": 2}})",
                      q_pair(4), {"adapter_config.json", module, "rank_pattern", "q_proj", "layers.0.self_attn.q_proj"});
    // The same patterns in sorted order load, with the first key's rank.
    const std::string dir = fresh_dir("pattern-sorted");
    write_dir(dir, R"({"peft_type": "LORA", "r": 8, "rank_pattern": {"layers.0.self_attn.q_proj": 2, "q_proj": 4}})",
              q_pair(2));
    EXPECT_EQ(LoraAdapter::load_peft(dir).modules.at(0).rank, 2);
}

TEST(LoraAdapter, RefusesBrokenFiles) {
    const std::string bin_dir = fresh_dir("bin");
    write_file_atomic(bin_dir + "/adapter_config.json", config_with({}));
    write_file_atomic(bin_dir + "/adapter_model.bin", "PK");
    expect_error([&] { (void)LoraAdapter::load_peft(bin_dir); }, {"adapter_model.bin", "adapter_model.safetensors"});

    const std::string no_config = fresh_dir("no-config");
    expect_error([&] { (void)LoraAdapter::load_peft(no_config); }, {"adapter_config.json", "missing"});

    expect_load_error("malformed", R"({"peft_type": "LORA", "r": 4,)", q_pair(), {"adapter_config.json", "invalid JSON"});
    expect_load_error("not-object", R"(["LORA"])", q_pair(), {"adapter_config.json", "object"});
    expect_load_error("no-tensors", config_with({}), {}, {"adapter_model.safetensors", "no LoRA tensors"});

    // A truncated weights file (a copy cut short) names the file.
    const std::string dir = fresh_dir("truncated");
    write_dir(dir, config_with({}), q_pair());
    const std::string path = dir + "/adapter_model.safetensors";
    const std::string bytes = read_text_file(path);
    write_file_atomic(path, std::string_view(bytes).substr(0, bytes.size() - 9));
    expect_error([&] { (void)LoraAdapter::load_peft(dir); }, {"adapter_model.safetensors"});
    write_file_atomic(path, std::string_view(bytes).substr(0, 5));
    expect_error([&] { (void)LoraAdapter::load_peft(dir); }, {"adapter_model.safetensors"});

    expect_error([&] { (void)LoraAdapter::load_peft(dir + "/adapter.gguf"); }, {"adapter.gguf", "load_gguf_lora"});
}

TEST(LoraAdapter, SaveRefusesModulesTheConfigWouldComputeDifferently) {
    LoraAdapter ad = sample_adapter();
    ad.modules[1].scale *= 2;
    expect_error([&] { ad.save_peft(fresh_dir("bad-scale")); }, {ad.modules[1].module, "scale"});
    ad = sample_adapter();
    ad.config.rank_pattern.clear();
    expect_error([&] { ad.save_peft(fresh_dir("bad-rank")); }, {"model.layers.0.self_attn.v_proj", "rank 2"});
    ad = sample_adapter();
    ad.modules[2].b.pop_back();
    expect_error([&] { ad.save_peft(fresh_dir("bad-size")); }, {ad.modules[2].module});
    ad = sample_adapter();
    ad.modules.push_back(ad.modules[0]);
    expect_error([&] { ad.save_peft(fresh_dir("dup")); }, {ad.modules[0].module, "twice"});
    // A directory that fails to save is left without a half-written adapter.
    EXPECT_FALSE(file_exists(test::temp_dir() + "/lora-dup/adapter_config.json"));
}

// Adapters written by PEFT itself (tests/fixtures/make_lora_fixtures.py): every one loads, with
// the ranks and scales PEFT gave its modules, and survives save_peft/load_peft unchanged.
TEST(LoraAdapter, ReadsAdaptersMadeByPeft) {
    const std::string root = test::fixtures_dir() + "/lora";
    if (!fs::exists(root + "/variants/patterns/adapter_config.json")) GTEST_SKIP() << "no PEFT fixtures in " << root;
    for (const char* name : {"llama/adapter_init", "llama/adapter_trained", "qwen2/adapter_init",
                             "qwen2/adapter_trained", "variants/patterns", "variants/rslora", "variants/qv_only"}) {
        SCOPED_TRACE(name);
        const std::string dir = root + "/" + name;
        if (!fs::exists(dir)) continue;
        const LoraAdapter ad = LoraAdapter::load_peft(dir);
        EXPECT_EQ(ad.modules.size() * 2, SafetensorsFile::open(dir + "/adapter_model.safetensors")->tensor_infos().size());
        const std::string saved = fresh_dir(std::string("peft-") + std::to_string(std::hash<std::string>()(name)));
        ad.save_peft(saved);
        const LoraAdapter back = LoraAdapter::load_peft(saved);
        ASSERT_EQ(back.modules.size(), ad.modules.size());
        for (size_t i = 0; i < ad.modules.size(); ++i) {
            EXPECT_EQ(back.modules[i].module, ad.modules[i].module);
            EXPECT_EQ(back.modules[i].scale, ad.modules[i].scale);
            EXPECT_TRUE(same_bits(back.modules[i].a, ad.modules[i].a) && same_bits(back.modules[i].b, ad.modules[i].b));
        }
    }
    // rank_pattern {"layers.1.mlp.down_proj": 6, "q_proj": 2}, alpha_pattern {"v_proj": 3}, r 4, alpha 8.
    const LoraAdapter p = LoraAdapter::load_peft(root + "/variants/patterns");
    EXPECT_EQ(p.find("model.layers.1.mlp.down_proj")->rank, 6);
    EXPECT_EQ(p.find("model.layers.1.mlp.down_proj")->scale, float(8.0 / 6.0));
    EXPECT_EQ(p.find("model.layers.0.mlp.down_proj")->rank, 4);
    EXPECT_EQ(p.find("model.layers.0.self_attn.q_proj")->scale, 4.0f);
    EXPECT_EQ(p.find("model.layers.0.self_attn.v_proj")->scale, 0.75f);
    // use_rslora, r 8, alpha 4: 4 / sqrt(8).
    EXPECT_EQ(LoraAdapter::load_peft(root + "/variants/rslora").modules.at(0).scale, float(4.0 / std::sqrt(8.0)));
}
