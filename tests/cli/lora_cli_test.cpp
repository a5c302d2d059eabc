// `--lora` on the command line, on a real model of ../shared: an adapter at scale 0 leaves the
// output as it is, one at scale 1 moves perplexity, a GGUF LoRA made by `slm convert --lora` acts as
// its PEFT directory, an adapter of the wrong shape or path is a one-line error naming it, and
// `eval task --chat` renders its prompts with the model's chat template.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <slm/file_io.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_slm.h"
#include "testing/testing.h"

namespace slm {
namespace {

using nlohmann::json;
using test::run_slm;
using ::testing::HasSubstr;

const std::string kModel = "tinyllama-spm-13m";  // llama: hidden 256, 8 heads of 32, 6 layers

// Writes a PEFT adapter of rank 2 on q_proj and v_proj of layer 0 (A [2, in], B [out, 2], filled
// with a fixed pattern): adapter_config.json and a hand-made safetensors file.
void write_adapter(const std::string& dir, int64_t in, int64_t q_out, int64_t v_out) {
    std::filesystem::create_directories(dir);
    write_file_atomic(dir + "/adapter_config.json",
                      R"({"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj", "v_proj"],
                          "task_type": "CAUSAL_LM", "bias": "none"})");
    json header;
    std::vector<float> data;
    auto add = [&](const std::string& name, int64_t rows, int64_t cols) {
        const size_t begin = data.size() * sizeof(float);
        for (int64_t i = 0; i < rows * cols; ++i) data.push_back(0.02f * float((i * 7) % 11 - 5));
        header[name] = {
            {"dtype", "F32"}, {"shape", {rows, cols}}, {"data_offsets", {begin, data.size() * sizeof(float)}}};
    };
    const std::string prefix = "base_model.model.model.layers.0.self_attn.";
    add(prefix + "q_proj.lora_A.weight", 2, in);
    add(prefix + "q_proj.lora_B.weight", q_out, 2);
    add(prefix + "v_proj.lora_A.weight", 2, in);
    add(prefix + "v_proj.lora_B.weight", v_out, 2);
    const std::string h = header.dump();
    const uint64_t n = h.size();
    std::ofstream f(dir + "/adapter_model.safetensors", std::ios::binary);
    f.write(reinterpret_cast<const char*>(&n), 8);
    f.write(h.data(), std::streamsize(h.size()));
    f.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size() * sizeof(float)));
}

class LoraCli : public ::testing::Test {
protected:
    void SetUp() override {
        shared_ = test::shared_dir();
        if (shared_.empty()) GTEST_SKIP() << "../shared (models and data) not found beside the repository";
        model_ = shared_ + "/models/" + kModel;
        adapter_ = test::temp_dir() + "/cli-adapter";
        write_adapter(adapter_, 256, 256, 128);
    }
    std::string run_text(const std::string& extra) {
        const auto r = run_slm("run " + test::quoted(model_) + " -p 'Once upon a time' -n 12 --greedy --json " + extra);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return json::parse(r.out)["text"].get<std::string>();
    }
    double ppl(const std::string& extra) {
        const auto r = run_slm("perplexity " + test::quoted(model_) + " --file " +
                               test::quoted(test::fixtures_dir() + "/models/perplexity_text.txt") +
                               " --ctx 128 --chunks 2 --json " + extra);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return json::parse(r.out)["ppl"].get<double>();
    }
    std::string shared_, model_, adapter_;
};

TEST_F(LoraCli, RunWithAdapterAtScaleZeroIsTheBaseModel) {
    EXPECT_EQ(run_text("--lora " + test::quoted(adapter_ + ":0")), run_text(""));
}

TEST_F(LoraCli, PerplexityMovesWithTheAdapterAndGgufLoraActsAsItsDirectory) {
    const double base = ppl(""), adapted = ppl("--lora " + test::quoted(adapter_));
    EXPECT_NE(base, adapted);
    const std::string gguf = test::temp_dir() + "/cli-adapter.gguf";
    const auto c = run_slm("convert " + test::quoted(model_) + " --lora " + test::quoted(adapter_) + " -o " +
                           test::quoted(gguf) + " --type f32");
    ASSERT_EQ(c.exit_code, 0) << c.err;
    EXPECT_NEAR(ppl("--lora " + test::quoted(gguf)), adapted, 1e-6 * adapted);
    // Two adapters add up: the same one twice at half scale is the whole.
    EXPECT_NEAR(ppl("--lora " + test::quoted(adapter_ + ":0.5") + " --lora " + test::quoted(gguf + ":0.5")), adapted,
                1e-4 * adapted);
}

TEST_F(LoraCli, AdapterOfWrongShapeIsAOneLineErrorNamingIt) {
    const std::string bad = test::temp_dir() + "/cli-bad-adapter";
    write_adapter(bad, 255, 256, 128);
    const auto r = run_slm("run " + test::quoted(model_) + " -p hi -n 1 --lora " + test::quoted(bad));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("model.layers.0.self_attn.q_proj"));
    EXPECT_THAT(r.err, HasSubstr("[2, 255]"));
    EXPECT_THAT(r.err, HasSubstr("[256, 256]"));
    const auto missing =
        run_slm("bench " + test::quoted(model_) + " -p 8 -n 0 -r 1 --lora " + test::quoted(bad + "-missing"));
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_THAT(missing.err, HasSubstr("-missing"));
}

// eval task: --lora recorded in the results; --chat sends the prompt through the model's template.
TEST_F(LoraCli, EvalTaskWithAdapterAndChatTemplate) {
    const std::string qwen = shared_ + "/models/tinyqwen2-bpe-11m";  // hidden 320, 5 heads of 64, 1 kv head
    const std::string adapter = test::temp_dir() + "/cli-qwen-adapter", out = test::temp_dir() + "/cli-eval-chat";
    write_adapter(adapter, 320, 320, 64);
    const std::string task = "eval task squad " + test::quoted(qwen) + " --data " +
                             test::quoted(shared_ + "/datasets/squad-v1.1/dev-v1.1.json") +
                             " --limit 1 --max-tokens 4 -o " + test::quoted(out) + " --lora " +
                             test::quoted(adapter + ":0.5");
    const auto r = run_slm(task + " --chat --system 'Be brief.'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json result = json::parse(r.out);
    EXPECT_EQ(result["chat"]["system"], "Be brief.");
    EXPECT_EQ(result["lora"][0]["scale"], 0.5);
    const json record = json::parse(read_text_file(out + "/prompts.jsonl"));
    const std::string chat = record["chat_prompt"].get<std::string>();
    // SQuAD's chat form (as in ../shared's chat-train.jsonl), after the system message.
    EXPECT_TRUE(chat.starts_with("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nContext: ")) << chat;
    EXPECT_TRUE(chat.ends_with("\n\nQuestion: Which NFL team represented the AFC at Super Bowl 50?<|im_end|>\n"
                               "<|im_start|>assistant\n"))
        << chat;
    const auto no_chat = run_slm(task + " --system 'Be brief.'");
    EXPECT_EQ(no_chat.exit_code, 1);
    EXPECT_THAT(no_chat.err, HasSubstr("--system needs --chat"));
}

}  // namespace
}  // namespace slm
