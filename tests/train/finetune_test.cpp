// slm::finetune end to end on the real tinyqwen2 model of ../shared: a short run learns (its
// loss falls), writes a PEFT adapter, checkpoints and loss.svg; a run resumed from a checkpoint
// ends in the same adapter, bit for bit, as one that never stopped; a half-written checkpoint (a
// run killed while saving) is passed over; and bad options, data and checkpoints are refused
// with messages that name what is wrong.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/finetune.h>
#include <slm/lora_adapter.h>

#include "testing/testing.h"
#include "train/train_fixtures.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

namespace slm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using train::test_fixtures::expect_error;

// A small prompt/completion task the model can fit in a few steps.
std::string write_task(const std::string& name, int n) {
    static const char* kCountries[] = {"France", "Italy", "Spain", "Japan", "Egypt", "Peru", "Kenya", "Chile"};
    static const char* kCapitals[] = {"Paris", "Rome", "Madrid", "Tokyo", "Cairo", "Lima", "Nairobi", "Santiago"};
    std::string text;
    for (int i = 0; i < n; ++i) {
        const nlohmann::json line = {{"prompt", std::string("The capital of ") + kCountries[i % 8] + " is"},
                                     {"completion", std::string(" ") + kCapitals[i % 8] + "."}};
        text += line.dump() + "\n";
    }
    const std::string path = test::temp_dir() + "/" + name;
    write_file_atomic(path, text);
    return path;
}

FinetuneOptions small_run(const std::string& model, const std::string& data, const std::string& out) {
    FinetuneOptions o;
    o.model = model;
    o.data = data;
    o.output = out;
    o.lora.r = 4;
    o.lora.alpha = 8;
    o.lora.dropout = 0.1;  // masks must be reproduced on resume too
    o.lr = 3e-3;
    o.batch_size = 4;
    o.max_steps = 6;
    o.warmup = 1;
    o.max_seq_len = 64;
    o.threads = 2;
    o.progress = false;
    return o;
}

std::string slurp(const std::string& path) { return read_text_file(path); }

class Finetune : public ::testing::Test {
protected:
    void SetUp() override {
        shared = test::shared_dir();
        if (shared.empty()) GTEST_SKIP() << "../shared (models and data) not found beside the repository";
        model = shared + "/models/tinyqwen2-bpe-11m";
        data = write_task("task.jsonl", 24);
    }
    std::string shared, model, data;
};

TEST_F(Finetune, LearnsAndWritesAdapterCheckpointAndPlot) {
    const std::string out = test::temp_dir() + "/learn";
    FinetuneOptions o = small_run(model, data, out);
    o.eval_split = 0.25;
    o.max_steps = 8;
    const FinetuneSummary s = finetune(o);
    EXPECT_EQ(s.steps, 8);
    ASSERT_FALSE(std::isnan(s.eval_loss_before));
    EXPECT_LT(s.eval_loss_after, s.eval_loss_before - 0.5) << "eight steps on a repetitive task must lower the loss";
    EXPECT_GT(s.tokens_per_second, 0);
    EXPECT_GT(s.peak_rss_bytes, 0);
    const LoraAdapter adapter = LoraAdapter::load_peft(out);
    EXPECT_EQ(adapter.config.r, 4);
    EXPECT_EQ(adapter.modules.size(), 8u * 7u);  // 8 layers, all-linear
    EXPECT_TRUE(fs::exists(out + "/checkpoint-8/optimizer.safetensors"));
    EXPECT_THAT(slurp(s.plot_path), HasSubstr("<svg"));
}

// The run stopped after step 3 (its checkpoint) and resumed ends where the unstopped run ends.
TEST_F(Finetune, ResumeEndsInTheSameAdapterBitForBit) {
    const std::string whole = test::temp_dir() + "/whole", resumed = test::temp_dir() + "/resumed";
    FinetuneOptions o = small_run(model, data, whole);
    o.save_every = 3;
    finetune(o);
    ASSERT_TRUE(fs::exists(whole + "/checkpoint-3/trainer_state.json"));

    // What a run killed after its step-3 save leaves: checkpoint-3, and a save of step 6 that
    // never finished (kill -9 mid-write). Resuming from the directory takes the whole checkpoint.
    fs::create_directories(resumed);
    fs::copy(whole + "/checkpoint-3", resumed + "/checkpoint-3", fs::copy_options::recursive);
    fs::create_directories(resumed + "/checkpoint-6.partial");
    write_file_atomic(resumed + "/checkpoint-6.partial/adapter_model.safetensors", "truncated");
    FinetuneOptions r = small_run(model, data, resumed);
    r.save_every = 3;
    r.resume = resumed;
    const FinetuneSummary s = finetune(r);
    EXPECT_EQ(s.steps, 6);
    EXPECT_EQ(slurp(resumed + "/adapter_model.safetensors"), slurp(whole + "/adapter_model.safetensors"));
    const auto history = [](const std::string& dir) {
        nlohmann::json h = nlohmann::json::parse(read_text_file(dir + "/checkpoint-6/trainer_state.json"))["history"];
        for (auto& record : h) record.erase("tokens_per_second");  // the one measured, not computed, field
        return h;
    };
    EXPECT_EQ(history(resumed), history(whole));
}

TEST_F(Finetune, ResumeWithOtherOptionsIsRefused) {
    const std::string out = test::temp_dir() + "/other";
    FinetuneOptions o = small_run(model, data, out);
    o.max_steps = 2;
    finetune(o);
    FinetuneOptions r = small_run(model, data, out);
    r.max_steps = 2;
    r.lr = 1e-3;
    r.resume = out + "/checkpoint-2";
    try {
        finetune(r);
        FAIL() << "resuming with another learning rate must be refused";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("other options"));
    }
    r = small_run(model, data, out);
    r.resume = test::temp_dir();  // no checkpoint there
    EXPECT_THROW(finetune(r), Error);
}

// Over a GGUF llama base (q/k rows in llama.cpp's order while training), the checkpoint holds the
// adapter in PEFT's order: it is the final adapter, and resuming from it continues exactly.
TEST_F(Finetune, CheckpointOfAGgufLlamaBaseIsAPeftAdapter) {
    const std::string base = shared + "/models/tinyllama-spm-13m/tinyllama-spm-13m-q8_0.gguf";
    const std::string out = test::temp_dir() + "/gguf-llama", resumed = test::temp_dir() + "/gguf-llama-resumed";
    FinetuneOptions o = small_run(base, data, out);
    o.lora.targets = "q_proj,k_proj";
    o.max_steps = 4;
    o.save_every = 2;
    finetune(o);
    const LoraAdapter final_adapter = LoraAdapter::load_peft(out), saved = LoraAdapter::load_peft(out + "/checkpoint-4");
    ASSERT_EQ(saved.modules.size(), final_adapter.modules.size());
    for (const LoraModule& m : final_adapter.modules) {
        const LoraModule* c = saved.find(m.module);
        ASSERT_TRUE(c) << m.module;
        EXPECT_EQ(c->a, m.a) << m.module;
        EXPECT_EQ(c->b, m.b) << m.module;
    }
    fs::create_directories(resumed);
    fs::copy(out + "/checkpoint-2", resumed + "/checkpoint-2", fs::copy_options::recursive);
    FinetuneOptions r = small_run(base, data, resumed);
    r.lora.targets = "q_proj,k_proj";
    r.max_steps = 4;
    r.save_every = 2;
    r.resume = resumed;
    finetune(r);
    EXPECT_EQ(slurp(resumed + "/adapter_model.safetensors"), slurp(out + "/adapter_model.safetensors"));
}

TEST_F(Finetune, QloraTrainsOnAnNf4Base) {
    const std::string out = test::temp_dir() + "/qlora";
    FinetuneOptions o = small_run(model, data, out);
    o.qlora = true;
    o.eval_split = 0.25;
    const FinetuneSummary s = finetune(o);
    EXPECT_LT(s.eval_loss_after, s.eval_loss_before);
}

TEST_F(Finetune, BadInputNamesWhatIsWrong) {
    const std::string out = test::temp_dir() + "/bad";
    FinetuneOptions o = small_run(model, data, out);
    o.lora.targets = "q_proj,attn_q";
    expect_error([&] { finetune(o); }, "attn_q");
    o = small_run(model, data, out);
    o.lr = -1;
    expect_error([&] { finetune(o); }, "--lr");
    o = small_run(model, data, out);
    o.lora.dropout = 1;
    expect_error([&] { finetune(o); }, "--lora-dropout");

    const std::string broken = test::temp_dir() + "/broken.jsonl";
    write_file_atomic(broken, "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"a\", \"completion\": 3}\n");
    o = small_run(model, broken, out);
    expect_error([&] { finetune(o); }, "broken.jsonl:2");
}

}  // namespace
}  // namespace slm
