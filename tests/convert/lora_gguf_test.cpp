// llama.cpp LoRA GGUF files: written with the metadata keys, tensor names, ggml shapes and q/k row
// permutation that llama.cpp's convert_lora_to_gguf.py produces and llama-adapter.cpp checks, and
// read back into the same HF-layout adapter (bit for bit where no scale had to be folded).
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/lora_gguf.h>
#include <slm/model_config.h>

#include "testing/testing.h"

#include <gmock/gmock.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>

using namespace slm;
using ::testing::HasSubstr;

namespace {

ModelConfig fixture_config(const std::string& name) {
    return ModelFiles::open(test::fixtures_dir() + "/models/" + name).config;
}

std::string out_path(const std::string& name) { return test::temp_dir() + "/" + name + ".gguf"; }

// in and out features of a HF module of the fixture models (hidden 64, intermediate 96).
std::pair<int64_t, int64_t> dims(const ModelConfig& c, const std::string& module) {
    const int64_t D = c.hidden_size, F = c.intermediate_size, Q = int64_t(c.num_heads) * c.head_dim,
                  KV = int64_t(c.num_kv_heads) * c.head_dim;
    if (module.ends_with("q_proj")) return {D, Q};
    if (module.ends_with("k_proj") || module.ends_with("v_proj")) return {D, KV};
    if (module.ends_with("o_proj")) return {Q, D};
    if (module.ends_with("down_proj")) return {F, D};
    if (module == "lm_head") return {D, c.vocab_size};
    return {D, F};
}

// An adapter over `modules` of a model of config `c`, ranks and scales from `lora`.
LoraAdapter make_adapter(const ModelConfig& c, const LoraConfig& lora, const std::vector<std::string>& modules) {
    LoraAdapter ad;
    ad.config = lora;
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    for (const std::string& path : modules) {
        LoraModule m;
        m.module = path;
        std::tie(m.in_features, m.out_features) = dims(c, path);
        m.rank = lora.rank_for(path);
        m.scale = lora.scale_for(path);
        m.a.resize(size_t(m.rank * m.in_features));
        m.b.resize(size_t(m.out_features * m.rank));
        for (float& v : m.a) v = normal(rng);
        for (float& v : m.b) v = normal(rng);
        ad.modules.push_back(std::move(m));
    }
    return ad;
}

const std::vector<std::string> kAllLayer0 = {
    "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj",
    "model.layers.0.self_attn.o_proj", "model.layers.0.mlp.gate_proj",    "model.layers.0.mlp.up_proj",
    "model.layers.0.mlp.down_proj",    "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.k_proj",
};

LoraConfig rank4_alpha8() {
    LoraConfig c;
    c.r = 4;
    c.lora_alpha = 8;
    c.rank_pattern = {{"k_proj", 2}};  // alpha / rank differs, but one global alpha still serves
    c.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    return c;
}

std::vector<float> tensor_floats(const GgufFile& f, const std::string& name) {
    const Tensor t = *f.find_tensor(name);
    std::vector<float> out(size_t(t.numel()));
    traits(t.dtype).to_float(t.data, out.data(), t.numel());
    return out;
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

void expect_error(const std::function<void()>& run, std::initializer_list<std::string> parts) {
    try {
        run();
        ADD_FAILURE() << "no error thrown";
    } catch (const Error& e) {
        for (const std::string& p : parts) EXPECT_THAT(e.what(), HasSubstr(p));
    }
}

}  // namespace

TEST(LoraGguf, LlamaRoundTripIsBitExactAndUndoesTheQkPermutation) {
    const ModelConfig base = fixture_config("llama");
    std::vector<std::string> modules = kAllLayer0;
    modules.push_back("lm_head");
    const LoraAdapter ad = make_adapter(base, rank4_alpha8(), modules);
    const std::string path = out_path("llama-lora");
    write_gguf_lora(ad, base, path);

    const LoraAdapter back = load_gguf_lora(path, base);
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
    // The config read back gives each module the same rank and scale.
    EXPECT_EQ(back.config.r, 4);
    EXPECT_EQ(back.config.lora_alpha, 8.0);
    EXPECT_EQ(back.config.rank_for("model.layers.1.self_attn.k_proj"), 2);
    for (const LoraModule& m : back.modules) EXPECT_EQ(back.config.scale_for(m.module), m.scale) << m.module;
    // Base-model order: layer 0 q first, lm_head last.
    EXPECT_EQ(back.modules.front().module, "model.layers.0.self_attn.q_proj");
    EXPECT_EQ(back.modules.back().module, "lm_head");

    // What the file holds: lora_b of q/k in llama.cpp's row order, row (half j, index i) of each
    // head at 2i + j; lora_a and the other modules' lora_b as in PEFT.
    const auto f = GgufFile::open(path);
    const LoraModule& q = *ad.find("model.layers.0.self_attn.q_proj");
    const std::vector<float> qb = tensor_floats(*f, "blk.0.attn_q.weight.lora_b");
    const int64_t head_dim = base.head_dim, half = head_dim / 2;
    for (int64_t h = 0; h < base.num_heads; ++h)
        for (int64_t j = 0; j < 2; ++j)
            for (int64_t i = 0; i < half; ++i)
                for (int64_t r = 0; r < q.rank; ++r)
                    ASSERT_EQ(qb[size_t((h * head_dim + 2 * i + j) * q.rank + r)],
                              q.b[size_t((h * head_dim + j * half + i) * q.rank + r)]);
    EXPECT_TRUE(same_bits(tensor_floats(*f, "blk.0.attn_q.weight.lora_a"), q.a));
    EXPECT_FALSE(same_bits(tensor_floats(*f, "blk.1.attn_k.weight.lora_b"), ad.find("model.layers.1.self_attn.k_proj")->b));
    EXPECT_TRUE(same_bits(tensor_floats(*f, "blk.0.attn_v.weight.lora_b"), ad.find("model.layers.0.self_attn.v_proj")->b));
}

TEST(LoraGguf, MetadataNamesAndShapesAreWhatLlamaCppChecks) {
    const ModelConfig base = fixture_config("llama");
    std::vector<std::string> modules = kAllLayer0;
    modules.push_back("lm_head");
    const std::string path = out_path("llama-lora-layout");
    write_gguf_lora(make_adapter(base, rank4_alpha8(), modules), base, path);
    const auto f = GgufFile::open(path);
    EXPECT_EQ(f->get_string("general.type"), "adapter");
    EXPECT_EQ(f->get_string("adapter.type"), "lora");
    EXPECT_EQ(f->get_string("general.architecture"), "llama");
    ASSERT_NE(f->find("adapter.lora.alpha"), nullptr);
    EXPECT_EQ(f->find("adapter.lora.alpha")->type, GgufType::f32);  // llama.cpp reads it with gguf_get_val_f32
    EXPECT_EQ(f->get_float("adapter.lora.alpha"), 8.0);

    // GgufTensorInfo shapes are row-major (ggml's ne reversed): lora_a [r, in] is ne [in, r],
    // lora_b [out, r] is ne [r, out]. llama.cpp requires a.ne[0] = weight.ne[0] (in),
    // b.ne[1] = weight.ne[1] (out) and a.ne[1] = b.ne[0] (rank).
    const std::vector<std::tuple<std::string, std::vector<int64_t>, std::vector<int64_t>>> expected = {
        {"blk.0.attn_q.weight", {4, 64}, {64, 4}},       {"blk.0.attn_k.weight", {2, 64}, {64, 2}},
        {"blk.0.attn_v.weight", {4, 64}, {64, 4}},       {"blk.0.attn_output.weight", {4, 64}, {64, 4}},
        {"blk.0.ffn_gate.weight", {4, 64}, {96, 4}},     {"blk.0.ffn_up.weight", {4, 64}, {96, 4}},
        {"blk.0.ffn_down.weight", {4, 96}, {64, 4}},     {"blk.1.attn_q.weight", {4, 64}, {64, 4}},
        {"blk.1.attn_k.weight", {2, 64}, {64, 2}},       {"output.weight", {4, 64}, {256, 4}},
    };
    ASSERT_EQ(f->tensor_infos().size(), expected.size() * 2);
    for (const auto& [name, a_shape, b_shape] : expected) {
        const GgufTensorInfo* a = f->find_info(name + ".lora_a");
        const GgufTensorInfo* b = f->find_info(name + ".lora_b");
        ASSERT_TRUE(a && b) << name;
        EXPECT_EQ(a->shape, a_shape) << name;
        EXPECT_EQ(b->shape, b_shape) << name;
        EXPECT_EQ(a->dtype, DType::f32) << name;
    }
}

TEST(LoraGguf, RsloraAndAlphaPatternsAreFoldedIntoLoraB) {
    const ModelConfig base = fixture_config("llama");
    LoraConfig lora;
    lora.r = 4;
    lora.lora_alpha = 8;
    lora.use_rslora = true;                        // scale 8 / sqrt(4) = 4
    lora.rank_pattern = {{"v_proj", 16}};          // scale 8 / sqrt(16) = 2
    lora.alpha_pattern = {{"layers.1.self_attn.q_proj", 3}};  // scale 3 / 2 = 1.5
    const LoraAdapter ad = make_adapter(base, lora, kAllLayer0);
    const std::string path = out_path("llama-lora-rslora");
    write_gguf_lora(ad, base, path);

    // The commonest alpha·rank wins (4 · 4 = 16 for q, o, gate, up, down, k): their lora_b is kept.
    const auto f = GgufFile::open(path);
    EXPECT_EQ(f->get_float("adapter.lora.alpha"), 16.0);
    const LoraAdapter back = load_gguf_lora(path, base);
    for (const LoraModule& m : ad.modules) {
        const LoraModule* r = back.find(m.module);
        ASSERT_NE(r, nullptr) << m.module;
        EXPECT_EQ(r->rank, m.rank);
        EXPECT_TRUE(same_bits(r->a, m.a)) << m.module;
        // llama.cpp's scale, alpha / rank, times the folded B equals our scale times B.
        EXPECT_FLOAT_EQ(r->scale, 16.0f / float(m.rank)) << m.module;
        for (size_t i = 0; i < m.b.size(); ++i)
            ASSERT_NEAR(r->scale * r->b[i], m.scale * m.b[i], 1e-6f * std::abs(m.scale * m.b[i])) << m.module;
        EXPECT_EQ(same_bits(r->b, m.b), m.scale == r->scale) << m.module;
    }
}

TEST(LoraGguf, GqaHeadsAndUnpermutedArchitectures) {
    // Grouped-query llama: k's rows are permuted over the 2 kv heads (of 8 rows each).
    const ModelConfig gqa = fixture_config("llama_gqa_tied");
    const LoraAdapter ad = make_adapter(gqa, rank4_alpha8(), kAllLayer0);
    const std::string path = out_path("gqa-lora");
    write_gguf_lora(ad, gqa, path, DType::f32);
    const LoraAdapter back = load_gguf_lora(path, gqa);
    for (const LoraModule& m : ad.modules) EXPECT_TRUE(same_bits(back.find(m.module)->b, m.b)) << m.module;
    const auto f = GgufFile::open(path);
    const LoraModule& k = *ad.find("model.layers.0.self_attn.k_proj");
    const std::vector<float> kb = tensor_floats(*f, "blk.0.attn_k.weight.lora_b");
    EXPECT_EQ(kb[size_t(1 * k.rank)], k.b[size_t(4 * k.rank)]);   // head 0: HF row 4 (j 1, i 0) -> 1
    EXPECT_EQ(kb[size_t(9 * k.rank)], k.b[size_t(12 * k.rank)]);  // head 1: HF row 8 + 4 -> 8 + 1

    // A tied model has no output.weight for llama.cpp to adapt.
    std::vector<std::string> with_head = kAllLayer0;
    with_head.push_back("lm_head");
    expect_error([&] { write_gguf_lora(make_adapter(gqa, rank4_alpha8(), with_head), gqa, out_path("tied")); },
                 {"lm_head", "tied"});

    // qwen2 keeps HF's row order (llama.cpp runs it with neox rope).
    const ModelConfig qwen = fixture_config("qwen2_bias");
    const LoraAdapter qa = make_adapter(qwen, rank4_alpha8(), kAllLayer0);
    const std::string qpath = out_path("qwen-lora");
    write_gguf_lora(qa, qwen, qpath);
    const auto qf = GgufFile::open(qpath);
    EXPECT_EQ(qf->get_string("general.architecture"), "qwen2");
    EXPECT_TRUE(same_bits(tensor_floats(*qf, "blk.0.attn_q.weight.lora_b"), qa.find("model.layers.0.self_attn.q_proj")->b));
    // A file made for llama is refused for a qwen2 base (llama.cpp: "model arch and LoRA arch mismatch").
    expect_error([&] { (void)load_gguf_lora(path, qwen); }, {path, "general.architecture", "llama", "qwen2"});
}

TEST(LoraGguf, F16FilesAndZeroAlpha) {
    const ModelConfig base = fixture_config("llama");
    const LoraAdapter ad = make_adapter(base, rank4_alpha8(), kAllLayer0);
    const std::string path = out_path("llama-lora-f16");
    write_gguf_lora(ad, base, path, DType::f16);
    const auto f = GgufFile::open(path);
    EXPECT_EQ(f->find_info("blk.0.attn_q.weight.lora_a")->dtype, DType::f16);
    EXPECT_EQ(f->get_int("general.file_type"), 1);
    const LoraAdapter back = load_gguf_lora(path, base);
    for (const LoraModule& m : ad.modules) {
        const LoraModule& r = *back.find(m.module);
        for (size_t i = 0; i < m.a.size(); ++i) ASSERT_NEAR(r.a[i], m.a[i], 1e-3f * std::max(1.0f, std::abs(m.a[i])));
    }

    // llama.cpp reads alpha 0 (or none) as scale 1 whatever the rank; the PEFT config read back
    // says the same (lora_alpha = r, alpha = rank where the rank differs).
    GgufWriter w;
    w.copy_from(*f);
    w.set("adapter.lora.alpha", GgufWriter::f32(0.0f));
    const std::string zero = out_path("llama-lora-alpha0");
    w.write(zero);
    const LoraAdapter z = load_gguf_lora(zero, base);
    for (const LoraModule& m : z.modules) {
        EXPECT_EQ(m.scale, 1.0f) << m.module;
        EXPECT_EQ(z.config.scale_for(m.module), 1.0f) << m.module;
    }
}

TEST(LoraGguf, RefusesWhatDoesNotFitNamingIt) {
    const ModelConfig base = fixture_config("llama");
    expect_error([&] { write_gguf_lora(make_adapter(base, rank4_alpha8(), {"model.layers.5.mlp.up_proj"}), base,
                                       out_path("bad-layer")); },
                 {"model.layers.5.mlp.up_proj", "2-layer"});
    LoraAdapter wrong = make_adapter(base, rank4_alpha8(), {"model.layers.0.mlp.up_proj"});
    wrong.modules[0].in_features = 96;
    expect_error([&] { write_gguf_lora(wrong, base, out_path("bad-shape")); }, {"model.layers.0.mlp.up_proj", "fit"});
    expect_error([&] { write_gguf_lora(make_adapter(base, rank4_alpha8(), kAllLayer0), base, out_path("q8"), DType::q8_0); },
                 {"q8_0"});

    const auto good = GgufFile::open([&] {
        const std::string p = out_path("good");
        write_gguf_lora(make_adapter(base, rank4_alpha8(), kAllLayer0), base, p);
        return p;
    }());
    auto rewrite = [&](const std::string& name, const std::function<void(GgufWriter&)>& edit) {
        GgufWriter w;
        w.copy_from(*good);
        edit(w);
        const std::string p = out_path(name);
        w.write(p);
        return p;
    };
    const std::string model = rewrite("type-model", [](GgufWriter& w) { w.set("general.type", GgufWriter::str("model")); });
    expect_error([&] { (void)load_gguf_lora(model, base); }, {model, "general.type", "adapter"});
    const std::string ia3 = rewrite("type-ia3", [](GgufWriter& w) { w.set("adapter.type", GgufWriter::str("ia3")); });
    expect_error([&] { (void)load_gguf_lora(ia3, base); }, {ia3, "adapter.type"});

    // Tensors: a lone lora_a, a norm vector (mergekit), an unknown suffix, an embedding LoRA.
    std::vector<float> data(64 * 4, 0.5f);
    auto with_tensor = [&](const std::string& name, std::vector<int64_t> shape) {
        return rewrite("extra", [&](GgufWriter& w) { w.add_tensor(name, DType::f32, shape, data.data()); });
    };
    std::string p = with_tensor("blk.1.attn_v.weight.lora_a", {4, 64});
    expect_error([&] { (void)load_gguf_lora(p, base); }, {p, "blk.1.attn_v.weight", "no lora_b"});
    p = with_tensor("blk.0.attn_norm.weight", {64});
    expect_error([&] { (void)load_gguf_lora(p, base); }, {p, "blk.0.attn_norm.weight", "norm"});
    p = with_tensor("blk.0.attn_q.weight.lora_c", {64});
    expect_error([&] { (void)load_gguf_lora(p, base); }, {p, "lora_c"});
    p = rewrite("embd", [&](GgufWriter& w) {
        w.add_tensor("token_embd.weight.lora_a", DType::f32, {4, 64}, data.data());
        w.add_tensor("token_embd.weight.lora_b", DType::f32, {64, 4}, data.data());
    });
    expect_error([&] { (void)load_gguf_lora(p, base); }, {p, "token_embd.weight", "embedding"});
    p = rewrite("badshape", [&](GgufWriter& w) {
        w.add_tensor("blk.1.attn_v.weight.lora_a", DType::f32, {4, 64}, data.data());
        w.add_tensor("blk.1.attn_v.weight.lora_b", DType::f32, {32, 4}, data.data());
    });
    expect_error([&] { (void)load_gguf_lora(p, base); }, {p, "blk.1.attn_v.weight", "[32, 4]"});
}

TEST(LoraGguf, ConvertsAPeftDirectoryForAnHfBase) {
    const std::string base_dir = test::fixtures_dir() + "/models/llama";
    const ModelConfig base = fixture_config("llama");
    const LoraAdapter ad = make_adapter(base, rank4_alpha8(), kAllLayer0);
    const std::string peft_dir = test::temp_dir() + "/peft-for-gguf";
    ad.save_peft(peft_dir);
    const std::string path = out_path("from-peft");
    convert_peft_to_gguf_lora(base_dir, peft_dir, path, DType::f32);
    const LoraAdapter back = load_gguf_lora(path, base);
    for (const LoraModule& m : ad.modules) EXPECT_TRUE(same_bits(back.find(m.module)->b, m.b)) << m.module;
}

// A PEFT-made adapter with rank_pattern and alpha_pattern (tests/fixtures/make_lora_fixtures.py)
// on its GQA llama base: through GGUF and back, every module's scale·B and A are unchanged.
TEST(LoraGguf, PeftMadePatternsAdapterRoundTrips) {
    const std::string root = test::fixtures_dir() + "/lora";
    if (!std::filesystem::exists(root + "/variants/patterns/adapter_config.json"))
        GTEST_SKIP() << "no PEFT fixtures in " << root;
    const ModelConfig base = ModelFiles::open(root + "/llama/base").config;
    const LoraAdapter ad = LoraAdapter::load_peft(root + "/variants/patterns");
    const std::string path = out_path("peft-patterns");
    write_gguf_lora(ad, base, path);
    const LoraAdapter back = load_gguf_lora(path, base);
    ASSERT_EQ(back.modules.size(), ad.modules.size());
    for (const LoraModule& m : ad.modules) {
        const LoraModule& r = *back.find(m.module);
        EXPECT_EQ(r.rank, m.rank) << m.module;
        EXPECT_TRUE(same_bits(r.a, m.a)) << m.module;
        for (size_t i = 0; i < m.b.size(); ++i)
            ASSERT_NEAR(r.scale * r.b[i], m.scale * m.b[i], 1e-6f * std::abs(m.scale * m.b[i])) << m.module;
        EXPECT_EQ(back.config.rank_for(m.module), m.rank) << m.module;
        EXPECT_EQ(back.config.scale_for(m.module), r.scale) << m.module;
    }
}
