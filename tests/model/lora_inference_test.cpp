// LoRA adapters in the inference forward (unmerged, slm/lora_stack.h) against PEFT's logits for
// the fixtures of tests/fixtures/make_lora_fixtures.py: trained adapters on a llama and a qwen2
// base, and the PEFT options users set (rslora, rank/alpha patterns, q/v only); the same adapters
// through llama.cpp's GGUF LoRA format, and on GGUF bases (llama: q/k rows permuted).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <slm/error.h>
#include <slm/lora_files.h>
#include <slm/lora_gguf.h>
#include <slm/session.h>

#include "model/fixture_models.h"
#include "testing/testing.h"

namespace slm::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Both sides compute in f32 on the same f32 weights; only summation order differs (~1e-6 of the
// largest logit, as for the base fixtures). Relative to the largest |logit| of the reference.
constexpr float kTolerance = 1e-4f;

std::string lora_dir(const std::string& rel) { return fixtures_dir() + "/lora/" + rel; }

// Logits of every position of `prompt` ([T, V], row-major).
std::vector<float> logits_of(const Model& model, const std::vector<int32_t>& prompt, const LoraStack& adapters = {}) {
    SessionOptions so;
    so.kv_dtype = DType::f32;
    so.threads = 2;
    so.adapters = adapters;
    Session session(model, so);
    Batch batch;
    for (size_t i = 0; i < prompt.size(); ++i) batch.add(prompt[i], int32_t(i), 0, true);
    return session.forward(batch);
}

LoraStack stack_of(const Model& model, const LoraAdapter& adapter, float scale = 1.0f) {
    return LoraStack(model, {{std::make_shared<const LoraAdapter>(adapter), scale, "test adapter"}});
}

// The worst error over the rows, each relative to its reference row's largest |logit|.
float relative_error(const std::vector<float>& ours, const std::vector<float>& ref, int V) {
    EXPECT_EQ(ours.size(), ref.size());
    float worst = 0;
    for (size_t r = 0; r + size_t(V) <= std::min(ours.size(), ref.size()); r += size_t(V)) {
        std::span<const float> a(ours.data() + r, size_t(V)), b(ref.data() + r, size_t(V));
        worst = std::max(worst, max_abs_diff(a, b) / max_abs(b));
    }
    return worst;
}

struct Case {
    std::string name, base, adapter, reference, logits_field, prompt_field;
};

// PEFT's logits: every position of the prompt ([9, 256]), one row after the other.
const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {"llama_trained", "llama/base", "llama/adapter_trained", "llama/reference.json", "trained_logits",
         "logits_prompt"},
        {"qwen2_trained", "qwen2/base", "qwen2/adapter_trained", "qwen2/reference.json", "trained_logits",
         "logits_prompt"},
        {"rslora", "llama/base", "variants/rslora", "variants/rslora/reference.json", "logits", "prompt"},
        {"patterns", "llama/base", "variants/patterns", "variants/patterns/reference.json", "logits", "prompt"},
        {"qv_only", "llama/base", "variants/qv_only", "variants/qv_only/reference.json", "logits", "prompt"},
    };
    return all;
}

class LoraInference : public ::testing::TestWithParam<Case> {
protected:
    void SetUp() override {
        const Case& c = GetParam();
        const nlohmann::json ref = read_json(lora_dir(c.reference));
        prompt = ref[c.prompt_field].get<std::vector<int32_t>>();
        expected = ref[c.logits_field].get<std::vector<float>>();
        adapter = LoraAdapter::load_peft(lora_dir(c.adapter));
    }
    // The worst error of the adapted forward on `base_path` against PEFT, printed for the record.
    float check(const std::string& base_path, const LoraAdapter& a, const std::string& label) {
        const auto model = Model::load(base_path);
        EXPECT_EQ(expected.size(), prompt.size() * size_t(model->vocab_size()));
        const float err = relative_error(logits_of(*model, prompt, stack_of(*model, a)), expected, model->vocab_size());
        std::printf("  %s %s: max logit error %.3g (relative to max |logit|)\n", GetParam().name.c_str(), label.c_str(),
                    double(err));
        EXPECT_LE(err, kTolerance) << label;
        return err;
    }
    std::vector<int32_t> prompt;
    std::vector<float> expected;
    LoraAdapter adapter;
};

TEST_P(LoraInference, PeftAdapterOnHfBaseMatchesPeft) { check(lora_dir(GetParam().base), adapter, "peft on hf base"); }

TEST_P(LoraInference, GgufLoraRoundTripMatchesPeft) {
    const std::string base = lora_dir(GetParam().base);
    const std::string path = temp_dir() + "/" + GetParam().name + "-lora.gguf";
    write_gguf_lora(adapter, ModelFiles::open(base).config, path, DType::f32);
    check(base, load_lora_adapter(path, ModelFiles::open(base).config), "gguf lora on hf base");
}

// On a GGUF base the llama q/k rows are in llama.cpp's order: the stack permutes B of q/k alike.
TEST_P(LoraInference, GgufBaseMatchesPeft) {
    const std::string base = temp_dir() + "/" + GetParam().name + "-base.gguf";
    write_fixture_gguf(lora_dir(GetParam().base), base);
    check(base, adapter, "peft on gguf base");
    const std::string lora = temp_dir() + "/" + GetParam().name + "-on-gguf-lora.gguf";
    write_gguf_lora(adapter, ModelFiles::open(base).config, lora, DType::f32);
    check(base, load_lora_adapter(lora, ModelFiles::open(base).config), "gguf lora on gguf base");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LoraInference, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(LoraInferenceStack, ScaleZeroGivesTheBaseLogits) {
    const auto model = Model::load(lora_dir("llama/base"));
    const LoraAdapter adapter = LoraAdapter::load_peft(lora_dir("llama/adapter_trained"));
    const std::vector<int32_t> prompt = {1, 33, 7, 250, 18};
    EXPECT_EQ(logits_of(*model, prompt, stack_of(*model, adapter, 0.0f)), logits_of(*model, prompt));
    EXPECT_NE(logits_of(*model, prompt, stack_of(*model, adapter, 1.0f)), logits_of(*model, prompt));
}

// Several adapters add up (llama.cpp): the same adapter twice at 0.5 is that adapter at 1.
TEST(LoraInferenceStack, AdaptersAddUp) {
    const auto model = Model::load(lora_dir("llama/base"));
    auto adapter = std::make_shared<const LoraAdapter>(LoraAdapter::load_peft(lora_dir("llama/adapter_trained")));
    const std::vector<int32_t> prompt = {1, 33, 7, 250, 18};
    const LoraStack halves(*model, {{adapter, 0.5f, "a"}, {adapter, 0.5f, "b"}});
    const std::vector<float> whole = logits_of(*model, prompt, stack_of(*model, *adapter, 1.0f));
    EXPECT_LE(relative_error(logits_of(*model, prompt, halves), whole, model->vocab_size()), 1e-5f);
}

TEST(LoraInferenceStack, ShapeMismatchNamesModuleAndShapes) {
    const auto model = Model::load(lora_dir("llama/base"));
    LoraAdapter adapter = LoraAdapter::load_peft(lora_dir("llama/adapter_trained"));
    LoraModule& m = adapter.modules.front();
    m.in_features += 1;
    m.a.resize(size_t(m.rank * m.in_features));
    try {
        stack_of(*model, adapter);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr(m.module), HasSubstr("test adapter"),
                                    HasSubstr(fmt::format("[{}, {}]", m.rank, m.in_features)),
                                    HasSubstr(fmt::format("[{}, {}]", m.out_features, m.in_features - 1))));
    }
}

TEST(LoraInferenceStack, AdapterOfAnotherModelIsRefused) {
    // The qwen2 fixture's adapter has layers and widths of its own base, not of the llama one.
    const auto llama = Model::load(lora_dir("llama/base"));
    const ModelFiles qwen = ModelFiles::open(lora_dir("qwen2/base"));
    if (qwen.config.hidden_size == llama->config().hidden_size &&
        qwen.config.intermediate_size == llama->config().intermediate_size &&
        qwen.config.num_kv_heads == llama->config().num_kv_heads)
        GTEST_SKIP() << "the two fixture bases have the same shapes";
    EXPECT_THROW(load_lora_stack(*llama, {{lora_dir("qwen2/adapter_trained"), 1.0f}}), Error);
}

TEST(LoraInferenceStack, LmHeadAdapterIsRefusedClearly) {
    const auto model = Model::load(lora_dir("llama/base"));
    LoraAdapter adapter;
    adapter.modules.push_back({"lm_head", 2, 64, 256, 1.0f, std::vector<float>(128), std::vector<float>(512)});
    auto bind = [&] { stack_of(*model, adapter); };
    EXPECT_THAT(bind,
                ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("lm_head"), HasSubstr("not applied at inference"))));
}

TEST(LoraInferenceStack, StackOfAnotherModelIsRefusedByForward) {
    const auto a = Model::load(lora_dir("llama/base"));
    const auto b = Model::load(lora_dir("llama/base"));
    const LoraStack stack = stack_of(*a, LoraAdapter::load_peft(lora_dir("llama/adapter_trained")));
    auto run_on_b = [&] { logits_of(*b, {1, 2, 3}, stack); };
    EXPECT_THAT(run_on_b, ::testing::ThrowsMessage<Error>(HasSubstr("bound to another model")));
}

// PEFT reads the adapters slm finetune writes as slm does: an adapter trained by slm on the shared
// tinyqwen2 (tests/fixtures/lora/ours), loaded by PEFT 0.21 on the device (make_lora_fixtures.py
// --check-ours) onto the same base; its logits at seven positions of a SQuAD-style prompt.
TEST(LoraInferenceStack, PeftReadsOurFinetunedAdapterAsWeDo) {
    SLM_REQUIRE_SHARED(shared);
    const std::string ours = fixtures_dir() + "/lora/ours/tinyqwen2-squad";
    const auto model = Model::load(shared + "/models/tinyqwen2-bpe-11m");
    const nlohmann::json case_json = read_json(ours + "/case.json"), peft = read_json(ours + "/peft_logits.json");
    const std::vector<float> all = logits_of(*model, case_json["prompt"].get<std::vector<int32_t>>(),
                                             stack_of(*model, LoraAdapter::load_peft(ours + "/adapter")));
    const auto V = size_t(model->vocab_size());
    std::vector<float> rows;
    for (int p : peft["positions"]) rows.insert(rows.end(), all.begin() + long(size_t(p) * V), all.begin() + long(size_t(p + 1) * V));
    const float err = relative_error(rows, peft["logits"].get<std::vector<float>>(), int(V));
    std::printf("  PEFT on slm's finetuned tinyqwen2 adapter: max logit error %.3g\n", double(err));
    EXPECT_LE(err, kTolerance);
}

TEST(LoraSpec, PathWithOptionalScale) {
    EXPECT_EQ(parse_lora_spec("out/adapter").path, "out/adapter");
    EXPECT_EQ(parse_lora_spec("out/adapter").scale, 1.0f);
    EXPECT_EQ(parse_lora_spec("out/adapter:0.5").path, "out/adapter");
    EXPECT_EQ(parse_lora_spec("out/adapter:0.5").scale, 0.5f);
    EXPECT_EQ(parse_lora_spec("a.gguf:-1").scale, -1.0f);
    EXPECT_EQ(parse_lora_spec("dir:with:colons").path, "dir:with:colons");  // not a number: part of the path
    EXPECT_THROW(parse_lora_spec("a.gguf:inf"), Error);
    EXPECT_THROW(parse_lora_spec(":2"), Error);
}

TEST(LoraSpec, LoadsByFormat) {
    const ModelConfig base = ModelFiles::open(lora_dir("llama/base")).config;
    const LoraAdapter peft = load_lora_adapter(lora_dir("llama/adapter_trained"), base);
    const std::string path = temp_dir() + "/by-format.gguf";
    write_gguf_lora(peft, base, path, DType::f32);
    EXPECT_EQ(load_lora_adapter(path, base).modules.size(), peft.modules.size());
    EXPECT_THROW(load_lora_adapter(temp_dir() + "/missing-adapter", base), Error);
}

}  // namespace
}  // namespace slm::test
