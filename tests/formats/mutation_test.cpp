// Robustness of the readers of untrusted files: every truncation and thousands of seeded byte
// mutations of small valid images either parse or throw slm::Error, never crash, hang or throw
// anything else. (The libFuzzer targets in fuzz/ explore further; the sanitizer build runs this.)
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/model_config.h>
#include <slm/safetensors.h>

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "testing/testing.h"

namespace slm {
namespace {

constexpr int kMutations = 3000;

using Reader = std::function<void(const std::string& bytes)>;

// Runs `read` and reports anything but success or slm::Error.
void expect_clean(const Reader& read, const std::string& bytes, const std::string& what) {
    try {
        read(bytes);
    } catch (const Error&) {
    } catch (const std::exception& e) {
        ADD_FAILURE() << what << ": threw " << typeid(e).name() << ": " << e.what();
    }
}

// Every prefix of the first `dense` bytes, then one in `stride` up to the full length.
void check_truncations(const Reader& read, const std::string& image, size_t dense, size_t stride) {
    for (size_t n = 0; n < image.size(); n += n < dense ? 1 : stride)
        expect_clean(read, image.substr(0, n), "truncated to " + std::to_string(n));
}

// Seeded mutations: 1 to 4 bytes overwritten with random values or with 0x00/0xff (which make
// hostile counts and lengths), positions biased towards the header where structure lives.
void check_mutations(const Reader& read, const std::string& image, size_t header_bytes, uint32_t seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < kMutations; ++i) {
        std::string m = image;
        const int edits = 1 + int(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const size_t limit = (rng() % 4 != 0 && header_bytes < m.size()) ? header_bytes : m.size();
            const size_t pos = rng() % limit;
            const uint32_t kind = rng() % 3;
            m[pos] = char(kind == 0 ? 0x00 : kind == 1 ? 0xff : uint8_t(rng()));
        }
        expect_clean(read, m, "mutation " + std::to_string(i) + " (seed " + std::to_string(seed) + ")");
    }
}

std::string small_gguf() {
    static const std::vector<float> weights(64, 0.25f);
    static const std::vector<uint8_t> q8(2 * 34, 7);
    GgufWriter w;
    w.set("general.architecture", GgufWriter::str("llama"));
    w.set("llama.embedding_length", GgufWriter::u32(32));
    w.set("llama.block_count", GgufWriter::u32(1));
    w.set("llama.feed_forward_length", GgufWriter::u32(64));
    w.set("llama.attention.head_count", GgufWriter::u32(4));
    w.set("llama.context_length", GgufWriter::u32(128));
    w.set("llama.rope.freq_base", GgufWriter::f32(10000.0f));
    w.set("tokenizer.ggml.model", GgufWriter::str("llama"));
    w.set("tokenizer.ggml.tokens", GgufWriter::string_array({"<unk>", "<s>", "</s>", "▁the", "a"}));
    w.set("tokenizer.ggml.scores", GgufWriter::f32_array({0, 0, 0, -1, -2}));
    w.set("tokenizer.ggml.token_type", GgufWriter::i32_array({2, 3, 3, 1, 1}));
    w.set("tokenizer.ggml.bos_token_id", GgufWriter::u32(1));
    w.set("tokenizer.ggml.eos_token_id", GgufWriter::u32(2));
    GgufArray nested{GgufType::array, {GgufWriter::i32_array({1, 2}), GgufWriter::i32_array({})}};
    w.set("test.nested", GgufValue{GgufType::array, nested});
    w.add_tensor("token_embd.weight", DType::f32, {2, 32}, weights.data());
    w.add_tensor("blk.0.attn_q.weight", DType::q8_0, {2, 32}, q8.data());
    w.add_tensor("output_norm.weight", DType::f16, {32}, weights.data());
    return w.serialize();
}

void read_gguf(const std::string& bytes) {
    const auto f = GgufFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mutated.gguf");
    for (const auto& name : f->tensor_names()) (void)f->find_tensor(name);
    (void)f->get_string_array("tokenizer.ggml.tokens");
    (void)config_from_gguf(*f);
    (void)tokenizer_config_from_gguf(*f);
}

TEST(GgufMutation, TruncationsAndMutationsNeverCrash) {
    const std::string image = small_gguf();
    const auto f = GgufFile::parse(reinterpret_cast<const uint8_t*>(image.data()), image.size(), "small.gguf");
    ASSERT_NO_THROW(read_gguf(image));
    for (size_t n = 0; n + 1 < image.size(); n += 3) {
        // The last tensor ends before the final padding; every shorter cut loses something.
        if (n < f->data_offset() + f->find_info("output_norm.weight")->offset + 64) {
            EXPECT_THROW(read_gguf(image.substr(0, n)), Error) << n;
        }
    }
    check_truncations(read_gguf, image, f->data_offset(), 5);
    check_mutations(read_gguf, image, f->data_offset(), 1);
    check_mutations(read_gguf, image, f->data_offset(), 2);
}

TEST(GgufMutation, PrefixesOfASharedVocabularyFail) {
    SLM_REQUIRE_SHARED(shared);
    const Buffer file = Buffer::map_file(shared + "/vocab-tests/ggml-vocab-gpt-2.gguf");
    const std::string prefix(reinterpret_cast<const char*>(file.data()), 48 * 1024);
    for (size_t n = 0; n < prefix.size(); n += n < 4096 ? 1 : 97) {
        EXPECT_THROW(read_gguf(prefix.substr(0, n)), Error) << n;
    }
    check_mutations(read_gguf, prefix.substr(0, 8192), 4096, 3);
}

std::string small_safetensors() {
    static const std::vector<float> data(48, 1.5f);
    SafetensorsWriter w;
    w.set_metadata("format", "pt");
    w.add_tensor("model.embed_tokens.weight", DType::bf16, {4, 8}, data.data());
    w.add_tensor("model.norm.weight", DType::f32, {8}, data.data());
    w.add_tensor("model.layers.0.mlp.gate_proj.weight", DType::f16, {2, 8}, data.data());
    w.add_tensor("flags", DType::boolean, {3}, data.data());
    return w.serialize();
}

void read_safetensors(const std::string& bytes) {
    const auto f = SafetensorsFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mutated.safetensors");
    for (const auto& name : f->tensor_names()) (void)f->find_tensor(name);
}

TEST(SafetensorsMutation, TruncationsAndMutationsNeverCrash) {
    const std::string image = small_safetensors();
    ASSERT_NO_THROW(read_safetensors(image));
    for (size_t n = 0; n < image.size(); ++n) {
        EXPECT_THROW(read_safetensors(image.substr(0, n)), Error) << n;
    }
    const size_t header = 8 + size_t(uint8_t(image[0])) + 256 * size_t(uint8_t(image[1]));
    check_truncations(read_safetensors, image, header, 1);
    check_mutations(read_safetensors, image, header, 4);
    check_mutations(read_safetensors, image, header, 5);
}

TEST(ConfigMutation, MutatedConfigsNeverCrash) {
    const std::string config = R"({"model_type": "llama", "vocab_size": 32000, "hidden_size": 256,
        "intermediate_size": 704, "num_hidden_layers": 6, "num_attention_heads": 8, "num_key_value_heads": 4,
        "head_dim": 32, "max_position_embeddings": 1024, "rms_norm_eps": 1e-05, "tie_word_embeddings": true,
        "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"}, "bos_token_id": 1,
        "eos_token_id": [2], "dtype": "bfloat16"})";
    const std::string tokenizer = R"({"bos_token": {"content": "<s>"}, "eos_token": "</s>", "add_bos_token": true,
        "chat_template": [{"name": "default", "template": "{{ x }}"}]})";
    ASSERT_NO_THROW(parse_hf_config(config, "config.json"));
    auto read_all = [](const std::string& text) {
        try {
            (void)parse_hf_config(text, "config.json");
        } catch (const Error&) {
        }
        try {
            (void)parse_generation_config(text, "generation_config.json");
        } catch (const Error&) {
        }
        (void)parse_tokenizer_config(text, "tokenizer_config.json");
    };
    check_truncations(read_all, config, config.size(), 1);
    check_mutations(read_all, config, config.size(), 6);
    check_mutations(read_all, tokenizer, tokenizer.size(), 7);
}

}  // namespace
}  // namespace slm
