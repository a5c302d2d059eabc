// The forward of the families beyond Llama (gemma, gemma2, gemma3, phi3, phi2) against
// transformers, on the tiny fixtures make_family_fixtures.py writes (tests/fixtures/families/<arch>):
// float32 logits of every prompt position and of each greedy step within 1e-4 of the largest
// |logit| of the row, the greedy tokens equal, and the rotary frequencies, windows and scales
// transformers used; the same from the GGUF `slm convert` writes of each fixture (f32, and q8_0
// within the quantized tolerance of fixture_logits_test.cpp). Gemma 3 also from its multimodal
// checkpoint form and from its config in the Hub's transformers-4 form.
#include "model/fixture_models.h"
#include "testing/testing.h"

#include <slm/convert.h>
#include <slm/file_io.h>
#include <slm/gguf.h>
#include <slm/safetensors.h>
#include <slm/sampler.h>
#include <slm/session.h>

#include <fmt/format.h>

#include <filesystem>

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

// q8_0 matrices: as for the Llama-family fixtures (fixture_logits_test.cpp, 0.1 there), 8-bit
// weights and activations over these random weights put the logits a few percent of their scale
// off: 2-7e-2 per row measured, with one phi3 decode row at 0.105 (the f16 GGUF of the same
// fixture is within 2.5e-3, so the structure is exact and this is rounding). 0.15 bounds it.
constexpr float kQ8Tolerance = 0.15f;

// A byte-level BPE tokenizer.json with one token per byte (ids 0..255 as GPT-2 maps bytes to
// characters), for fixtures made without a tokenizer: slm convert writes the GGUF vocabulary from it.
nlohmann::json byte_tokenizer() {
    nlohmann::json vocab = nlohmann::json::object();
    int next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        const int cp = printable ? b : next++;
        std::string piece;
        if (cp < 0x80) piece += char(cp);
        else {
            piece += char(0xC0 | (cp >> 6));
            piece += char(0x80 | (cp & 0x3F));
        }
        vocab[piece] = b;
    }
    return {{"version", "1.0"},
            {"added_tokens", nlohmann::json::array()},
            {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
            {"decoder", {{"type", "ByteLevel"}}},
            {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}}};
}

// The fixture (or its `form`, a folder beside its files such as gemma3's multimodal/) converted by
// slm convert to a GGUF of matrices in `type`.
std::string converted_gguf(const std::string& family, DType type, const std::string& form = "") {
    const std::string source = family_dir(family) + (form.empty() ? "" : "/" + form);
    const std::string label = family + (form.empty() ? "" : "-" + form);
    const std::string hf = temp_dir() + "/" + label + "-hf";
    if (!std::filesystem::exists(hf)) {
        std::filesystem::create_directories(hf);
        for (const char* f : {"config.json", "generation_config.json", "model.safetensors"})
            std::filesystem::create_symlink(std::filesystem::absolute(source + "/" + f), hf + "/" + f);
        write_file_atomic(hf + "/tokenizer.json", byte_tokenizer().dump());
    }
    const std::string out = fmt::format("{}/{}-{}.gguf", temp_dir(), label, name(type));
    ConvertOptions options;
    options.type = type;
    convert_hf_to_gguf(hf, out, options, nullptr);
    return out;
}

struct Errors {
    float prefill = 0, decode = 0;
};

// Loads the family's fixture reference and runs its prompts through `model`: logits within
// `tolerance`, and the greedy tokens equal when `check_greedy`.
void check_family(const std::string& family, const Model& model, float tolerance, bool check_greedy, Errors& worst) {
    const std::string dir = family_dir(family);
    const nlohmann::json ref = read_json(dir + "/reference.json");
    const auto logits_file = SafetensorsFile::open(dir + "/reference.safetensors");
    const int V = model.vocab_size();

    // What transformers' modules held: rotary frequencies (short and long for longrope), the
    // cos/sin scaling, and each layer's window.
    expect_frequencies(model.rope_inv_freq(), ref["inv_freq"], "inv_freq");
    EXPECT_NEAR(model.rope_mscale(), ref["attention_scaling"].get<float>(), 1e-6);
    if (ref.contains("local_inv_freq")) expect_frequencies(model.rope_local_inv_freq(), ref["local_inv_freq"], "local_inv_freq");
    else EXPECT_TRUE(model.rope_local_inv_freq().empty());
    if (ref.contains("long_inv_freq")) {
        expect_frequencies(model.rope_long_inv_freq(), ref["long_inv_freq"], "long_inv_freq");
        EXPECT_EQ(model.rope_long_context(), ref["original_max_position"].get<int>());
    }
    if (ref["layer_types"].is_array()) {
        const int window = ref["sliding_window"].get<int>();
        for (int l = 0; l < model.config().num_layers; ++l)
            EXPECT_EQ(model.layer_window(l), ref["layer_types"][size_t(l)] == "sliding_attention" ? window : 0)
                << "layer " << l;
    }

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
        Session session(model, opt);
        Batch batch;
        for (size_t t = 0; t < ids.size(); ++t) batch.add(ids[t], int32_t(t), 0, true);
        const std::vector<float> logits = session.forward(batch);
        ASSERT_EQ(logits.size(), expected.size());
        for (size_t t = 0; t < ids.size(); ++t) {
            std::span<const float> ours(logits.data() + t * size_t(V), size_t(V));
            std::span<const float> theirs(expected.data() + t * size_t(V), size_t(V));
            const float err = max_abs_diff(ours, theirs) / max_abs(theirs);
            worst.prefill = std::max(worst.prefill, err);
            EXPECT_LE(err, tolerance) << family << " prompt " << i << " position " << t;
        }
        // Greedy decode through the KV cache against transformers' full recompute at each step
        // (fed transformers' tokens, so that a quantized model stays comparable).
        std::vector<float> last(logits.end() - V, logits.end());
        for (size_t step = 0; step < greedy.size(); ++step) {
            std::span<const float> theirs(expected_decode.data() + step * size_t(V), size_t(V));
            const float err = max_abs_diff(last, theirs) / max_abs(theirs);
            worst.decode = std::max(worst.decode, err);
            EXPECT_LE(err, tolerance) << family << " prompt " << i << " decode step " << step;
            if (check_greedy) {
                ASSERT_EQ(argmax(last), greedy[step]) << family << " prompt " << i << " greedy step " << step;
            }
            if (step + 1 < greedy.size()) {
                const std::span<const float> next = session.decode(greedy[step]);
                last.assign(next.begin(), next.end());
            }
        }
    }
}

class FamilyLogits : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (!file_exists(family_dir(GetParam()) + "/reference.json"))
            FAIL() << family_dir(GetParam())
                   << " is missing: run `python3 tests/fixtures/make_family_fixtures.py --out tests/fixtures/families` "
                      "where transformers is installed (the device machine)";
    }
    void report(const std::string& what, const Errors& e) {
        RecordProperty("max_rel_error_prefill", fmt::format("{:.3g}", e.prefill));
        RecordProperty("max_rel_error_decode", fmt::format("{:.3g}", e.decode));
        fmt::print("{:8s} {:9s} max rel logit error: prefill {:.2e}, decode {:.2e}\n", GetParam(), what, e.prefill,
                   e.decode);
    }
};

TEST_P(FamilyLogits, HfDirectoryMatchesTransformers) {
    Errors e;
    check_family(GetParam(), *Model::load(family_dir(GetParam())), kTolerance, true, e);
    report("HF f32", e);
}

TEST_P(FamilyLogits, ConvertedF32GgufMatchesTransformers) {
    const std::string path = converted_gguf(GetParam(), DType::f32);
    EXPECT_EQ(GgufFile::open(path)->get_string("general.architecture"), GetParam());
    Errors e;
    check_family(GetParam(), *Model::load(path), kTolerance, true, e);
    report("GGUF f32", e);
}

TEST_P(FamilyLogits, ConvertedQ8_0GgufIsWithinTheQuantizedTolerance) {
    Errors e;
    check_family(GetParam(), *Model::load(converted_gguf(GetParam(), DType::q8_0)), kQ8Tolerance, false, e);
    report("GGUF q8_0", e);
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyLogits, ::testing::Values("gemma", "gemma2", "gemma3", "phi3", "phi2"),
                         [](const auto& info) { return info.param; });

// Gemma 3's multimodal checkpoint (Gemma3ForConditionalGeneration: text_config, tensors under
// language_model.*, a vision tower beside them) holding the text fixture's weights: its language
// model is the text fixture (transformers computed the same logits from both, reference.json's
// multimodal.max_abs_diff), read from the directory and from the GGUF slm convert writes of it.
TEST(FamilyLogitsGemma3, MultimodalCheckpointRunsItsLanguageModel) {
    const nlohmann::json ref = read_json(family_dir("gemma3") + "/reference.json");
    ASSERT_EQ(ref["multimodal"]["max_abs_diff"].get<double>(), 0.0);
    Errors e;
    check_family("gemma3", *Model::load(family_dir("gemma3") + "/multimodal"), kTolerance, true, e);
    const std::string gguf = converted_gguf("gemma3", DType::f32, "multimodal");
    const auto file = GgufFile::open(gguf);
    EXPECT_EQ(file->get_string("general.architecture"), "gemma3");
    for (const GgufTensorInfo& t : file->tensor_infos())
        EXPECT_TRUE(t.name.starts_with("blk.") || t.name.starts_with("token_embd") || t.name.starts_with("output"))
            << t.name;
    check_family("gemma3", *Model::load(gguf), kTolerance, true, e);
    fmt::print("gemma3 multimodal max rel logit error: prefill {:.2e}, decode {:.2e}\n", e.prefill, e.decode);
}

// The same model under the config the Hub's Gemma 3 checkpoints have (transformers 4's form:
// rope_theta with rope_scaling for the global layers, rope_local_base_freq, sliding_window_pattern
// instead of layer_types), from which transformers 5 computed the same logits.
TEST(FamilyLogitsGemma3, HubConfigFormGivesTheSameModel) {
    const nlohmann::json ref = read_json(family_dir("gemma3") + "/reference.json");
    ASSERT_EQ(ref["hub_config"]["max_abs_diff"].get<double>(), 0.0);
    const std::string dir = temp_dir() + "/gemma3-hub-config";
    std::filesystem::create_directories(dir);
    write_file_atomic(dir + "/config.json", ref["hub_config"]["config"].dump(1));
    std::filesystem::create_symlink(std::filesystem::absolute(family_dir("gemma3") + "/model.safetensors"),
                                    dir + "/model.safetensors");
    const auto model = Model::load(dir);
    EXPECT_EQ(model->config().layer_types, ref["layer_types"].get<std::vector<std::string>>());
    Errors e;
    check_family("gemma3", *model, kTolerance, true, e);
}

}  // namespace
}  // namespace slm::test
