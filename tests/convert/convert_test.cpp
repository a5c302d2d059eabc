// slm convert on the real models: our q8_0 GGUF holds the same tensor bytes as llama.cpp's
// converter wrote (names, shapes, q/k permutation and quantization all agree), its tokenizer
// encodes as the Hugging Face tokenizer does, and an f32 GGUF gives the HF directory's logits.
#include <slm/convert.h>
#include <slm/gguf.h>
#include <slm/model.h>
#include <slm/tokenizer.h>

#include "testing/testing.h"

#include <slm/error.h>
#include <slm/file_io.h>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include <cmath>
#include <cstring>

using namespace slm;

namespace {

const char* const kModels[] = {"tinyllama-spm-13m", "tinyqwen2-bpe-11m"};

std::string convert_model(const std::string& dir, const std::string& name, DType type) {
    const std::string out = test::temp_dir() + "/" + name + "-" + std::string(slm::name(type)) + ".gguf";
    ConvertOptions options;
    options.type = type;
    ThreadPool pool(2);
    convert_hf_to_gguf(dir, out, options, &pool);
    return out;
}

}  // namespace

TEST(Convert, Q8_0TensorsEqualLlamaCppConverterOutput) {
    SLM_REQUIRE_SHARED(shared);
    for (const char* name : kModels) {
        const std::string dir = shared + "/models/" + name;
        const auto ours = GgufFile::open(convert_model(dir, name, DType::q8_0));
        const auto theirs = GgufFile::open(dir + "/" + name + "-q8_0.gguf");
        ASSERT_EQ(ours->tensor_infos().size(), theirs->tensor_infos().size()) << name;
        for (size_t i = 0; i < theirs->tensor_infos().size(); ++i) {
            const GgufTensorInfo& t = theirs->tensor_infos()[i];
            const GgufTensorInfo& o = ours->tensor_infos()[i];
            EXPECT_EQ(o.name, t.name) << name << " tensor " << i;
            EXPECT_EQ(o.dtype, t.dtype) << t.name;
            EXPECT_EQ(o.shape, t.shape) << t.name;
            ASSERT_EQ(o.nbytes, t.nbytes) << t.name;
            EXPECT_EQ(std::memcmp(ours->data() + ours->data_offset() + o.offset,
                                  theirs->data() + theirs->data_offset() + t.offset, t.nbytes),
                      0)
                << name << ": bytes of " << t.name << " differ";
        }
        for (const char* key : {"block_count", "embedding_length", "feed_forward_length", "attention.head_count",
                                "attention.head_count_kv", "context_length"}) {
            const std::string k = ours->get_string("general.architecture").value() + "." + key;
            EXPECT_EQ(ours->get_int(k), theirs->get_int(k)) << k;
        }
        EXPECT_EQ(ours->get_string_array("tokenizer.ggml.tokens"), theirs->get_string_array("tokenizer.ggml.tokens"));
    }
}

TEST(Convert, GgufTokenizerEncodesAsHuggingFace) {
    SLM_REQUIRE_SHARED(shared);
    // No text starts with a space: Hugging Face's Metaspace (prepend_scheme "first") adds no "▁"
    // before a leading space, while GGUF's add_space_prefix (llama.cpp) always adds one.
    const char* const texts[] = {"Once upon a time", "def fibonacci(n):\n    return n", "inner  double  spaces",
                                 "Émile déjà vu — 東京 🙂", "<|im_start|>user hi<|im_end|>", ""};
    for (const char* name : kModels) {
        const std::string dir = shared + "/models/" + name;
        const auto gguf = GgufFile::open(convert_model(dir, name, DType::f16));
        const auto from_gguf = Tokenizer::from_gguf(*gguf);
        const auto from_hf = Tokenizer::from_model_path(dir);
        for (const char* text : texts) {
            EXPECT_EQ(from_gguf->encode(text), from_hf->encode(text)) << name << ": '" << text << "'";
            EXPECT_EQ(from_gguf->encode(text, false, true), from_hf->encode(text, false, true)) << name << ": '" << text << "'";
        }
    }
}

TEST(Convert, F32GgufGivesTheLogitsOfTheHfDirectory) {
    SLM_REQUIRE_SHARED(shared);
    for (const char* name : kModels) {
        const std::string dir = shared + "/models/" + name;
        const auto hf = Model::load(dir);
        const auto gguf = Model::load(convert_model(dir, name, DType::f32));
        const std::vector<int32_t> tokens = {1, 450, 4996, 17354, 1701, 432, 29871, 13};
        std::vector<float> a, b;
        for (const Model* m : {hf.get(), gguf.get()}) {
            KvCache cache(m->config(), 64, 1, DType::f32);
            Batch batch;
            for (size_t i = 0; i < tokens.size(); ++i) batch.add(tokens[i] % m->vocab_size(), int32_t(i), 0, true);
            m->forward(batch, cache, m == hf.get() ? a : b, nullptr);
        }
        ASSERT_EQ(a.size(), b.size());
        double max_err = 0, scale = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            max_err = std::max(max_err, double(std::fabs(a[i] - b[i])));
            scale = std::max(scale, double(std::fabs(a[i])));
        }
        // Same f32 arithmetic on the same values; only the rope pairing order differs (llama).
        EXPECT_LT(max_err, 1e-4 * scale) << name;
    }
}

// What llama.cpp's graph of an architecture would compute differently is refused by name: GGUF has
// no key for the activation, per-layer windows off the architecture's pattern, or (outside Gemma
// 2) soft-capping.
TEST(Convert, RefusesWhatLlamaCppWouldComputeDifferently) {
    const std::string fixture = test::fixtures_dir() + "/families/gemma2";
    auto convert_error = [&](const char* name, const nlohmann::json& changes) -> std::string {
        const std::string dir = test::temp_dir() + "/" + name;
        std::filesystem::create_directories(dir);
        nlohmann::json config = nlohmann::json::parse(read_text_file(fixture + "/config.json"));
        config.merge_patch(changes);
        write_file_atomic(dir + "/config.json", config.dump());
        std::filesystem::create_symlink(std::filesystem::absolute(fixture + "/model.safetensors"), dir + "/model.safetensors");
        try {
            convert_hf_to_gguf(dir, dir + ".gguf", ConvertOptions{}, nullptr);
        } catch (const Error& e) {
            return e.what();
        }
        return "(no error)";
    };
    EXPECT_THAT(convert_error("exact-gelu", {{"hidden_activation", "gelu"}}),
                ::testing::HasSubstr("activation 'gelu' cannot be written to GGUF: llama.cpp's gemma2 applies gelu_pytorch_tanh"));
    EXPECT_THAT(convert_error("odd-windows", {{"layer_types", {"full_attention", "sliding_attention"}}}),
                ::testing::HasSubstr("layer_types[0] is 'full_attention', but llama.cpp's gemma2 gives that layer 'sliding_attention'"));
    EXPECT_THAT(convert_error("capped-llama", {{"model_type", "llama"}, {"hidden_act", "silu"}, {"layer_types", nullptr},
                                               {"hidden_activation", nullptr}}),
                ::testing::HasSubstr("soft-capping and query_pre_attn_scalar cannot be written for llama"));
}
