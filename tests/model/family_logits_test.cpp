// The forward of the families beyond Llama (gemma, gemma2, phi3) against transformers, on the tiny
// fixtures make_family_fixtures.py writes (tests/fixtures/families/<arch>): float32 logits of
// every prompt position and of each greedy step within 1e-4 of the largest |logit| of the row,
// the greedy tokens equal, and the rotary frequencies, windows and scales transformers used.
#include "model/fixture_models.h"
#include "testing/testing.h"

#include <slm/file_io.h>
#include <slm/safetensors.h>
#include <slm/sampler.h>
#include <slm/session.h>

#include <fmt/format.h>

namespace slm::test {
namespace {

// Both sides compute in f32 on the same f32 weights; only summation order and the polynomial
// exp/tanh differ (~1e-6 relative), as for the Llama-family fixtures (fixture_logits_test.cpp).
constexpr float kTolerance = 1e-4f;

std::string family_dir(const std::string& name) { return fixtures_dir() + "/families/" + name; }

std::vector<float> floats_of(const Tensor& t) {
    std::vector<float> out(size_t(t.numel()));
    traits(t.dtype).to_float(t.data, out.data(), t.numel());
    return out;
}

void expect_frequencies(std::span<const float> ours, const nlohmann::json& theirs, const std::string& what) {
    const auto expected = theirs.get<std::vector<float>>();
    ASSERT_EQ(ours.size(), expected.size()) << what;
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(ours[i], expected[i], 2e-6 * expected[i]) << what << " " << i;
}

class FamilyLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(FamilyLogits, HfDirectoryMatchesTransformers) {
    const std::string dir = family_dir(GetParam());
    if (!file_exists(dir + "/reference.json"))
        FAIL() << dir << " is missing: run `python3 tests/fixtures/make_family_fixtures.py --out tests/fixtures/families` "
                         "where transformers is installed (the device machine)";
    const nlohmann::json ref = read_json(dir + "/reference.json");
    const auto logits_file = SafetensorsFile::open(dir + "/reference.safetensors");
    std::unique_ptr<Model> model = Model::load(dir);
    const int V = model->vocab_size();

    // What transformers' modules held: rotary frequencies (short and long for longrope), the
    // cos/sin scaling, and each layer's window.
    expect_frequencies(model->rope_inv_freq(), ref["inv_freq"], "inv_freq");
    EXPECT_NEAR(model->rope_mscale(), ref["attention_scaling"].get<float>(), 1e-6);
    if (ref.contains("long_inv_freq")) {
        expect_frequencies(model->rope_long_inv_freq(), ref["long_inv_freq"], "long_inv_freq");
        EXPECT_EQ(model->rope_long_context(), ref["original_max_position"].get<int>());
    }
    if (ref["layer_types"].is_array()) {
        const int window = ref["sliding_window"].get<int>();
        for (int l = 0; l < model->config().num_layers; ++l)
            EXPECT_EQ(model->layer_window(l), ref["layer_types"][size_t(l)] == "sliding_attention" ? window : 0)
                << "layer " << l;
    }

    float worst_prefill = 0, worst_decode = 0;
    for (size_t i = 0; i < ref["prompts"].size(); ++i) {
        const auto& p = ref["prompts"][i];
        const auto ids = p["ids"].get<std::vector<int32_t>>();
        const auto greedy = p["greedy"].get<std::vector<int32_t>>();
        const std::vector<float> expected = floats_of(*logits_file->find_tensor(fmt::format("prompt_{}", i)));
        const std::vector<float> expected_decode = floats_of(*logits_file->find_tensor(fmt::format("decode_{}", i)));
        ASSERT_EQ(expected.size(), ids.size() * size_t(V));
        ASSERT_EQ(expected_decode.size(), greedy.size() * size_t(V));
        // The context is what the reference ran (prompt and continuation): longrope picks its
        // factors by it, as transformers did by the longest sequence it saw.
        SessionOptions opt;
        opt.kv_dtype = DType::f32;
        opt.threads = 1;
        opt.n_ctx = int(ids.size() + greedy.size());
        Session session(*model, opt);
        Batch batch;
        for (size_t t = 0; t < ids.size(); ++t) batch.add(ids[t], int32_t(t), 0, true);
        const std::vector<float> logits = session.forward(batch);
        ASSERT_EQ(logits.size(), expected.size());
        for (size_t t = 0; t < ids.size(); ++t) {
            std::span<const float> ours(logits.data() + t * size_t(V), size_t(V));
            std::span<const float> theirs(expected.data() + t * size_t(V), size_t(V));
            const float err = max_abs_diff(ours, theirs) / max_abs(theirs);
            worst_prefill = std::max(worst_prefill, err);
            EXPECT_LE(err, kTolerance) << GetParam() << " prompt " << i << " position " << t;
        }
        // Greedy decode through the KV cache against transformers' full recompute at each step.
        std::vector<float> last(logits.end() - V, logits.end());
        for (size_t step = 0; step < greedy.size(); ++step) {
            std::span<const float> theirs(expected_decode.data() + step * size_t(V), size_t(V));
            const float err = max_abs_diff(last, theirs) / max_abs(theirs);
            worst_decode = std::max(worst_decode, err);
            EXPECT_LE(err, kTolerance) << GetParam() << " prompt " << i << " decode step " << step;
            ASSERT_EQ(argmax(last), greedy[step]) << GetParam() << " prompt " << i << " greedy step " << step;
            if (step + 1 < greedy.size()) {
                const std::span<const float> next = session.decode(greedy[step]);
                last.assign(next.begin(), next.end());
            }
        }
    }
    RecordProperty("max_rel_error_prefill", fmt::format("{:.3g}", worst_prefill));
    RecordProperty("max_rel_error_decode", fmt::format("{:.3g}", worst_decode));
    fmt::print("{:8s} HF f32 max rel logit error: prefill {:.2e}, decode {:.2e}\n", GetParam(), worst_prefill,
               worst_decode);
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyLogits, ::testing::Values("gemma", "gemma2", "phi3"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace slm::test
