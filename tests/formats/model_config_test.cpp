// HF config parsing (transformers 4 and 5 forms), generation and tokenizer configs, GGUF
// metadata to ModelConfig (checked against the HF config of the same shared model), ModelFiles.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>
#include <slm/model_config.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "testing/testing.h"

namespace slm {
namespace {

using ::testing::HasSubstr;

void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
    try {
        f();
        ADD_FAILURE() << "no error; expected one mentioning " << needles.front();
    } catch (const Error& e) {
        for (const auto& n : needles) EXPECT_THAT(e.what(), HasSubstr(n));
    }
}

TEST(HfConfig, ReadsTransformers5Form) {
    const auto c = parse_hf_config(R"({
        "model_type": "llama", "vocab_size": 32000, "hidden_size": 256, "intermediate_size": 704,
        "num_hidden_layers": 6, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 32,
        "max_position_embeddings": 1024, "rms_norm_eps": 1e-05, "tie_word_embeddings": true,
        "rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0,
                            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                            "original_max_position_embeddings": 8192},
        "bos_token_id": 1, "eos_token_id": [2, 7], "dtype": "bfloat16", "pad_token_id": null})", "config.json");
    EXPECT_EQ(c.architecture, "llama");
    EXPECT_EQ(c.vocab_size, 32000);
    EXPECT_EQ(c.hidden_size, 256);
    EXPECT_EQ(c.intermediate_size, 704);
    EXPECT_EQ(c.num_layers, 6);
    EXPECT_EQ(c.num_heads, 8);
    EXPECT_EQ(c.num_kv_heads, 4);
    EXPECT_EQ(c.head_dim, 32);
    EXPECT_EQ(c.max_position, 1024);
    EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
    EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
    EXPECT_EQ(c.rope_scaling.type, "llama3");
    EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
    EXPECT_EQ(c.rope_scaling.original_max_position, 8192);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_FALSE(c.attention_bias);
    EXPECT_EQ(c.bos_token_id, 1);
    EXPECT_EQ(c.eos_token_ids, (std::vector<int>{2, 7}));
    EXPECT_EQ(c.torch_dtype, "bfloat16");
}

TEST(HfConfig, ReadsTransformers4Form) {
    const auto c = parse_hf_config(R"({
        "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
        "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
        "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
        "sliding_window": 32768, "use_sliding_window": false, "torch_dtype": "bfloat16",
        "eos_token_id": 151643, "hidden_act": "silu"})", "config.json");
    EXPECT_EQ(c.head_dim, 64);  // hidden / heads
    EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
    EXPECT_EQ(c.rope_scaling.type, "yarn");
    EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 4.0);
    EXPECT_TRUE(c.attention_bias);   // qwen2 has q/k/v biases
    EXPECT_EQ(c.sliding_window, 0);  // not used when use_sliding_window is false
    EXPECT_EQ(c.eos_token_ids, std::vector<int>{151643});
    EXPECT_EQ(c.bos_token_id, -1);
    EXPECT_EQ(c.torch_dtype, "bfloat16");
    EXPECT_FALSE(c.tie_word_embeddings);
    const auto mistral = parse_hf_config(R"({"model_type": "mistral", "vocab_size": 10, "hidden_size": 8,
        "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "sliding_window": 4096,
        "rope_scaling": null})", "config.json");
    EXPECT_EQ(mistral.sliding_window, 4096);
    EXPECT_EQ(mistral.num_kv_heads, 2);
    EXPECT_DOUBLE_EQ(mistral.rope_theta, 10000.0);
    EXPECT_EQ(mistral.rope_scaling.type, "default");
}

TEST(HfConfig, ErrorsNameFileAndField) {
    const std::string base = R"("vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, )";
    expect_error([&] { parse_hf_config("{" + base + R"("num_attention_heads": 2})", "m/config.json"); },
                 {"m/config.json", "model_type"});
    expect_error([&] { parse_hf_config(R"({"model_type": "llama", "vocab_size": 10, "hidden_size": "8"})", "m/config.json"); },
                 {"m/config.json", "'hidden_size'", "\"8\""});
    expect_error([&] { parse_hf_config(R"({"model_type": "llama", "vocab_size": 10})", "m/config.json"); },
                 {"m/config.json", "missing field 'hidden_size'"});
    expect_error([&] { parse_hf_config(R"({"model_type": "llama", )" + base + R"("num_attention_heads": 2, "num_key_value_heads": 3})", "c.json"); },
                 {"c.json", "num_key_value_heads"});
    expect_error([&] { parse_hf_config(R"({"model_type": "llama", )" + base + R"("num_attention_heads": 3})", "c.json"); },
                 {"c.json", "head_dim"});
    expect_error([&] { parse_hf_config(R"({"model_type": "llama", )" + base + R"("num_attention_heads": -2})", "c.json"); },
                 {"c.json", "'num_attention_heads' must be positive"});
    expect_error([&] { parse_hf_config("{\"model_type\": ", "c.json"); }, {"c.json", "invalid JSON"});
    expect_error([&] { parse_hf_config("[1]", "c.json"); }, {"c.json", "expected a JSON object"});
    expect_error([&] { parse_hf_config(R"({"model_type": "llama", )" + base + R"("num_attention_heads": 2, "rope_scaling": 3})", "c.json"); },
                 {"c.json", "'rope_scaling' must be an object"});
}

TEST(GenerationConfig, ReadsSamplingDefaults) {
    const auto g = parse_generation_config(R"({"do_sample": true, "temperature": 0.8, "top_p": 0.95,
        "top_k": 40, "max_length": 1024, "repetition_penalty": 1.1, "eos_token_id": [1, 2], "min_p": null})",
                                           "generation_config.json");
    EXPECT_EQ(g.do_sample, true);
    EXPECT_EQ(g.temperature, 0.8);
    EXPECT_EQ(g.top_p, 0.95);
    EXPECT_EQ(g.top_k, 40);
    EXPECT_EQ(g.max_length, 1024);
    EXPECT_EQ(g.repetition_penalty, 1.1);
    EXPECT_EQ(g.min_p, std::nullopt);
    EXPECT_EQ(g.max_new_tokens, std::nullopt);
    EXPECT_EQ(g.eos_token_ids, (std::vector<int>{1, 2}));
    expect_error([] { parse_generation_config(R"({"top_k": "many"})", "g.json"); }, {"g.json", "'top_k'"});
}

TEST(TokenizerConfigJson, ReadsTokensAndTemplates) {
    const auto t = parse_tokenizer_config(R"({"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>",
        "eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": false}, "add_bos_token": true,
        "chat_template": "{{ messages }}"})", "tokenizer_config.json");
    EXPECT_EQ(t.tokenizer_class, "LlamaTokenizer");
    EXPECT_EQ(t.bos_token, "<s>");
    EXPECT_EQ(t.eos_token, "</s>");
    EXPECT_EQ(t.add_bos_token, true);
    EXPECT_EQ(t.add_eos_token, std::nullopt);
    EXPECT_EQ(t.chat_template, "{{ messages }}");
    const auto named = parse_tokenizer_config(R"({"chat_template": [{"name": "tool_use", "template": "T"},
        {"name": "default", "template": "D"}]})", "tc.json");
    EXPECT_EQ(named.chat_template, "D");
    ASSERT_EQ(named.named_chat_templates.size(), 2u);
    EXPECT_EQ(named.named_chat_templates[0], (std::pair<std::string, std::string>{"tool_use", "T"}));
    expect_error([] { parse_tokenizer_config(R"({"chat_template": 5})", "tc.json"); }, {"tc.json", "chat_template"});
    expect_error([] { parse_tokenizer_config(R"({"chat_template": [{"name": 1}]})", "tc.json"); }, {"tc.json", "chat_template"});
    expect_error([] { parse_tokenizer_config(R"({"bos_token": 3})", "tc.json"); }, {"tc.json", "bos_token"});
}

TEST(GgufConfig, ReadsArchitectureKeysAndReportsMissingOnes) {
    const float data[64] = {};
    GgufWriter w;
    w.set("general.architecture", GgufWriter::str("llama"));
    w.set("llama.embedding_length", GgufWriter::u32(64));
    w.set("llama.block_count", GgufWriter::u32(2));
    w.set("llama.feed_forward_length", GgufWriter::u32(128));
    w.set("llama.attention.head_count", GgufWriter::u32(4));
    w.set("llama.context_length", GgufWriter::u32(512));
    w.set("llama.rope.freq_base", GgufWriter::f32(500000.0f));
    w.set("llama.rope.scaling.type", GgufWriter::str("linear"));
    w.set("llama.rope.scaling.factor", GgufWriter::f32(2.0f));
    w.set("tokenizer.ggml.tokens", GgufWriter::string_array({"<unk>", "<s>", "</s>", "a"}));
    w.set("tokenizer.ggml.bos_token_id", GgufWriter::u32(1));
    w.set("tokenizer.ggml.eos_token_id", GgufWriter::u32(2));
    w.set("tokenizer.ggml.add_bos_token", GgufWriter::boolean(true));
    w.set("tokenizer.chat_template", GgufWriter::str("{{ x }}"));
    w.add_tensor("token_embd.weight", DType::f32, {4, 16}, data);
    const std::string bytes = w.serialize();
    const auto f = GgufFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "m.gguf");
    const auto c = config_from_gguf(*f);
    EXPECT_EQ(c.architecture, "llama");
    EXPECT_EQ(c.num_kv_heads, 4);  // defaults to the head count
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.vocab_size, 4);    // from the token list
    EXPECT_EQ(c.rope_theta, 500000.0);
    EXPECT_EQ(c.rope_scaling.type, "linear");
    EXPECT_EQ(c.rope_scaling.factor, 2.0);
    EXPECT_TRUE(c.tie_word_embeddings);  // no output.weight
    EXPECT_FALSE(c.attention_bias);
    EXPECT_EQ(c.bos_token_id, 1);
    EXPECT_EQ(c.eos_token_ids, std::vector<int>{2});
    const auto t = tokenizer_config_from_gguf(*f);
    EXPECT_EQ(t.bos_token, "<s>");
    EXPECT_EQ(t.eos_token, "</s>");
    EXPECT_EQ(t.add_bos_token, true);
    EXPECT_EQ(t.chat_template, "{{ x }}");

    w.remove("llama.block_count");
    const std::string missing = w.serialize();
    const auto g = GgufFile::parse(reinterpret_cast<const uint8_t*>(missing.data()), missing.size(), "m.gguf");
    expect_error([&] { config_from_gguf(*g); }, {"m.gguf", "missing metadata key 'llama.block_count'"});
    w.set("llama.block_count", GgufWriter::str("six"));
    const std::string wrong = w.serialize();
    const auto h = GgufFile::parse(reinterpret_cast<const uint8_t*>(wrong.data()), wrong.size(), "m.gguf");
    expect_error([&] { config_from_gguf(*h); }, {"llama.block_count", "string"});
}

// The GGUF made by llama.cpp's converter and the HF config of the same model agree.
TEST(GgufConfig, MatchesTheHfConfigOfTheSharedModels) {
    SLM_REQUIRE_SHARED(shared);
    for (const char* model : {"tinyllama-spm-13m", "tinyqwen2-bpe-11m"}) {
        SCOPED_TRACE(model);
        const std::string dir = shared + "/models/" + model;
        const ModelConfig hf = parse_hf_config(read_text_file(dir + "/config.json"), dir + "/config.json");
        const auto gguf = GgufFile::open(dir + "/" + model + "-q8_0.gguf");
        const ModelConfig gg = config_from_gguf(*gguf);
        EXPECT_EQ(gg.architecture, hf.architecture);
        EXPECT_EQ(gg.vocab_size, hf.vocab_size);
        EXPECT_EQ(gg.hidden_size, hf.hidden_size);
        EXPECT_EQ(gg.intermediate_size, hf.intermediate_size);
        EXPECT_EQ(gg.num_layers, hf.num_layers);
        EXPECT_EQ(gg.num_heads, hf.num_heads);
        EXPECT_EQ(gg.num_kv_heads, hf.num_kv_heads);
        EXPECT_EQ(gg.head_dim, hf.head_dim);
        EXPECT_EQ(gg.max_position, hf.max_position);
        EXPECT_NEAR(gg.rms_norm_eps, hf.rms_norm_eps, 1e-12);
        // llama.cpp's converter looked for a top-level rope_theta, which the transformers 5 form
        // lacks: the Qwen2 GGUF has no rope.freq_base, and llama.cpp (like us) then uses 10000.
        if (gguf->find(gg.architecture + ".rope.freq_base")) EXPECT_EQ(gg.rope_theta, hf.rope_theta);
        else EXPECT_EQ(gg.rope_theta, 10000.0);
        EXPECT_EQ(gg.tie_word_embeddings, hf.tie_word_embeddings);
        EXPECT_EQ(gg.attention_bias, hf.attention_bias);
        EXPECT_EQ(gg.bos_token_id, hf.bos_token_id);
        EXPECT_EQ(gg.eos_token_ids, hf.eos_token_ids);
    }
}

TEST(ModelFiles, OpensEverySharedModelForm) {
    SLM_REQUIRE_SHARED(shared);
    const std::string llama = shared + "/models/tinyllama-spm-13m";
    const std::string qwen = shared + "/models/tinyqwen2-bpe-11m";
    const ModelFiles dir = ModelFiles::open(llama);
    EXPECT_EQ(dir.config.architecture, "llama");
    EXPECT_EQ(dir.naming, TensorNaming::hf);
    EXPECT_EQ(dir.gguf, nullptr);
    EXPECT_EQ(dir.tokenizer_json, llama + "/tokenizer.json");
    EXPECT_EQ(dir.tokenizer_config_json, llama + "/tokenizer_config.json");
    EXPECT_EQ(dir.tokenizer_config.bos_token, "<s>");
    EXPECT_EQ(dir.generation.temperature, 0.8);
    EXPECT_EQ(dir.file_bytes, 25244160);
    EXPECT_TRUE(dir.tensors->find_tensor("model.embed_tokens.weight"));
    EXPECT_TRUE(dir.chat_template.empty());

    const ModelFiles qdir = ModelFiles::open(qwen);
    EXPECT_THAT(qdir.chat_template, HasSubstr("<|im_start|>"));  // from chat_template.jinja
    EXPECT_EQ(qdir.tokenizer_config.eos_token, "<|endoftext|>");

    const ModelFiles single = ModelFiles::open(qwen + "/model.safetensors");
    EXPECT_EQ(single.config.architecture, "qwen2");
    EXPECT_EQ(single.tensors->tensor_names().size(), qdir.tensors->tensor_names().size());

    const ModelFiles gguf = ModelFiles::open(qwen + "/tinyqwen2-bpe-11m-q8_0.gguf");
    EXPECT_EQ(gguf.naming, TensorNaming::gguf);
    ASSERT_NE(gguf.gguf, nullptr);
    EXPECT_EQ(gguf.config.num_kv_heads, 1);
    EXPECT_TRUE(gguf.tensors->find_tensor("token_embd.weight"));
    // The file is `slm convert`'s (issue 22): what matters is that it carries the rope base of
    // config.json (1e6; llama.cpp b4748's converter dropped it) and the chat template.
    EXPECT_EQ(gguf.config.rope_theta, 1e6);
    EXPECT_EQ(gguf.config.rope_theta, qdir.config.rope_theta);
    EXPECT_EQ(gguf.chat_template, qdir.chat_template);
    EXPECT_GT(gguf.file_bytes, 0);
}

TEST(ModelFiles, ErrorsNameWhatIsMissing) {
    const std::string tmp = test::temp_dir();
    expect_error([&] { ModelFiles::open(tmp + "/nope"); }, {tmp + "/nope", "no such file"});
    const std::string empty = tmp + "/no-config";
    std::filesystem::create_directories(empty);
    expect_error([&] { ModelFiles::open(empty); }, {empty, "no config.json"});
    write_file_atomic(empty + "/notes.txt", "hello");
    expect_error([&] { ModelFiles::open(empty + "/notes.txt"); }, {"notes.txt", "not a model file"});
    const std::string torch = tmp + "/torch-model";
    std::filesystem::create_directories(torch);
    write_file_atomic(torch + "/config.json", R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
        "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2})");
    write_file_atomic(torch + "/pytorch_model.bin", "PK");
    expect_error([&] { ModelFiles::open(torch); }, {"pytorch_model.bin", "safetensors"});
    write_file_atomic(torch + "/config.json", "{\"model_type\": ");
    expect_error([&] { ModelFiles::open(torch); }, {torch + "/config.json", "invalid JSON"});
}

}  // namespace
}  // namespace slm
