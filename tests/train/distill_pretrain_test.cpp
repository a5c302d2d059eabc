// slm distill and slm train end to end on the real tinyqwen2 model and tokenizer of ../shared:
// a student made of two of the teacher's layers learns from it (in process and from a top-k
// cache), a model trained from scratch learns text; both write loadable model directories,
// checkpoints and pictures, and resume bit for bit; a student with another tokenizer, a cache of
// other data, layers the teacher lacks and bad configs are refused with clear messages and
// nothing written.
#include <slm/distill.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/finetune.h>
#include <slm/model.h>
#include <slm/pretrain.h>

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

// Repetitive text a tiny student fits in a few steps (.txt: cut into max_seq_len pieces).
std::string write_text(const std::string& name, int lines, int offset = 0) {
    static const char* kLines[] = {"The cat sat on the mat and looked at the door.",
                                   "A little bird sang in the tall green tree.",
                                   "The children ran to the park after school.",
                                   "Mother baked bread and the kitchen smelled warm."};
    std::string text;
    for (int i = 0; i < lines; ++i) text += std::string(kLines[(i + offset) % 4]) + "\n";
    const std::string path = test::temp_dir() + "/" + name;
    write_file_atomic(path, text);
    return path;
}

template <typename Options>
void small_loop(Options& o, const std::string& out) {
    o.output = out;
    o.lr = 3e-3;
    o.batch_size = 2;
    o.max_steps = 6;
    o.warmup = 1;
    o.max_seq_len = 48;
    o.threads = 2;
    o.progress = false;
}

using train::test_fixtures::expect_error;

class Distill : public ::testing::Test {
protected:
    void SetUp() override {
        shared = test::shared_dir();
        if (shared.empty()) GTEST_SKIP() << "../shared (models and data) not found beside the repository";
        teacher = shared + "/models/tinyqwen2-bpe-11m";
        data = write_text("distill.txt", 40);
        eval = write_text("distill-eval.txt", 12, 1);
    }
    DistillOptions run(const std::string& out) const {
        DistillOptions o;
        o.teacher = teacher;
        o.student_init = "layers:0,7";
        o.data = data;
        o.eval_data = eval;
        small_loop(o, out);
        return o;
    }
    std::string shared, teacher, data, eval;
};

TEST_F(Distill, StudentFromTeacherLayersLearnsAndLoads) {
    const std::string out = test::temp_dir() + "/dp-student";
    const TrainingSummary s = distill(run(out));
    EXPECT_EQ(s.steps, 6);
    EXPECT_LT(s.eval_loss_after, s.eval_loss_before) << "the student must move toward the data and the teacher";
    EXPECT_FALSE(std::isnan(s.teacher_eval_loss));
    const std::unique_ptr<Model> student = Model::load(out);
    EXPECT_EQ(student->config().num_layers, 2);
    const nlohmann::json config = nlohmann::json::parse(read_text_file(out + "/config.json"));
    EXPECT_EQ(config["num_hidden_layers"], 2);
    EXPECT_EQ(config["layer_types"].size(), 2u);
    EXPECT_TRUE(fs::exists(out + "/tokenizer.json"));
    const std::string svg = read_text_file(s.plot_path);
    EXPECT_THAT(svg, HasSubstr("KL(teacher"));
    EXPECT_THAT(svg, HasSubstr("teacher eval loss"));
    const nlohmann::json state = nlohmann::json::parse(read_text_file(out + "/checkpoint-6/trainer_state.json"));
    EXPECT_TRUE(state["history"][0].contains("kl"));
}

// A cache holding every logit trains the student exactly as the teacher run in process does; a
// top-64 cache (the default k) trains it too, on the bucketed KL; a run from a cache resumes bit
// for bit; and a cache of other data or of another teacher is refused.
TEST_F(Distill, TeacherCacheIsWrittenOnceAndReused) {
    const std::string full_cache = test::temp_dir() + "/teacher-all.topk", cache = test::temp_dir() + "/teacher.topk";
    DistillOptions c = run("");
    c.cache_teacher = full_cache;
    c.top_k = 8192;
    distill(c);
    c.cache_teacher = cache;
    c.top_k = 64;
    distill(c);
    ASSERT_TRUE(fs::exists(cache));

    const std::string live = test::temp_dir() + "/dp-live", all = test::temp_dir() + "/dp-all",
                      cached = test::temp_dir() + "/dp-cached";
    const TrainingSummary a = distill(run(live));
    DistillOptions o = run(all);
    o.teacher_cache = full_cache;
    const TrainingSummary b = distill(o);
    EXPECT_NEAR(b.train_loss, a.train_loss, 1e-4 * a.train_loss);
    EXPECT_NEAR(b.eval_loss_after, a.eval_loss_after, 1e-4 * a.eval_loss_after);
    o = run(cached);
    o.teacher_cache = cache;
    o.save_every = 3;
    const TrainingSummary t = distill(o);
    EXPECT_LT(t.eval_loss_after, t.eval_loss_before);

    const std::string resumed = test::temp_dir() + "/distill-resumed";
    fs::create_directories(resumed);
    fs::copy(cached + "/checkpoint-3", resumed + "/checkpoint-3", fs::copy_options::recursive);
    DistillOptions r = run(resumed);
    r.teacher_cache = cache;
    r.save_every = 3;
    r.resume = resumed;
    distill(r);
    EXPECT_EQ(read_text_file(resumed + "/model.safetensors"), read_text_file(cached + "/model.safetensors"));

    // The cache of this data does not fit other data.
    DistillOptions other = run(test::temp_dir() + "/dp-other");
    other.data = write_text("other.txt", 40, 2);
    other.teacher_cache = cache;
    expect_error([&] { distill(other); }, "data");
    EXPECT_FALSE(fs::exists(test::temp_dir() + "/dp-other"));
    // Nor another teacher, even one with the same tokenizer (the same model quantized to q8_0).
    DistillOptions quantized = run(test::temp_dir() + "/dp-quantized");
    quantized.teacher = shared + "/models/tinyqwen2-bpe-11m/tinyqwen2-bpe-11m-q8_0.gguf";
    quantized.student_init.clear();
    quantized.student = teacher;
    quantized.teacher_cache = cache;
    expect_error([&] { distill(quantized); }, "teacher");
    EXPECT_FALSE(fs::exists(test::temp_dir() + "/dp-quantized"));
}

TEST_F(Distill, LoraStudentWritesAnAdapter) {
    const std::string out = test::temp_dir() + "/dp-lora-student";
    DistillOptions o = run(out);
    o.student_init.clear();
    o.student = teacher;  // self-distillation of the same model, adapters only
    o.lora = true;
    o.lora_options.r = 4;
    const TrainingSummary s = distill(o);
    EXPECT_EQ(s.steps, 6);
    EXPECT_TRUE(fs::exists(out + "/adapter_model.safetensors"));
    EXPECT_TRUE(fs::exists(out + "/adapter_config.json"));
}

TEST_F(Distill, MismatchesAreRefusedAndNothingIsWritten) {
    const std::string out = test::temp_dir() + "/dp-refused";
    DistillOptions o = run(out);
    o.student_init.clear();
    o.student = shared + "/models/tinyllama-spm-13m";
    expect_error([&] { distill(o); }, "share a tokenizer");
    o = run(out);
    o.student_init = "layers:0,8";
    expect_error([&] { distill(o); }, "layer 8 is not a layer of the teacher");
    o = run(out);
    o.student_init = "layers:1,1";
    expect_error([&] { distill(o); }, "listed twice");
    o = run(out);
    o.alpha = 1.5;
    expect_error([&] { distill(o); }, "--alpha");
    EXPECT_FALSE(fs::exists(out));
}

class Pretrain : public ::testing::Test {
protected:
    void SetUp() override {
        shared = test::shared_dir();
        if (shared.empty()) GTEST_SKIP() << "../shared (models and data) not found beside the repository";
        tokenizer = shared + "/models/tinyqwen2-bpe-11m";
        config = test::temp_dir() + "/config.json";
        write_file_atomic(config, nlohmann::json{{"architectures", {"LlamaForCausalLM"}},
                                                 {"model_type", "llama"},
                                                 {"vocab_size", 8192},
                                                 {"hidden_size", 64},
                                                 {"intermediate_size", 128},
                                                 {"num_hidden_layers", 2},
                                                 {"num_attention_heads", 4},
                                                 {"num_key_value_heads", 2},
                                                 {"max_position_embeddings", 128},
                                                 {"rms_norm_eps", 1e-5},
                                                 {"rope_theta", 10000.0},
                                                 {"tie_word_embeddings", false},
                                                 {"torch_dtype", "float32"}}
                                          .dump());
    }
    PretrainOptions run(const std::string& out) const {
        PretrainOptions o;
        o.config = config;
        o.tokenizer = tokenizer;
        o.data = {write_text("a.txt", 30), write_text("b.txt", 30, 2)};
        o.eval_data = write_text("held.txt", 12, 1);
        small_loop(o, out);
        o.max_steps = 12;
        o.lr = 1e-2;
        return o;
    }
    std::string shared, tokenizer, config;
};

TEST_F(Pretrain, FreshModelLearnsTextAndLoads) {
    const std::string out = test::temp_dir() + "/dp-scratch";
    PretrainOptions o = run(out);
    o.gguf_type = "f16";
    const TrainingSummary s = pretrain(o);
    EXPECT_EQ(s.steps, 12);
    EXPECT_NEAR(s.eval_loss_before, std::log(8192.0), 0.5) << "a fresh model predicts about uniformly";
    EXPECT_LT(s.eval_loss_after, s.eval_loss_before - 1.0);
    const std::unique_ptr<Model> model = Model::load(out);
    EXPECT_EQ(model->config().hidden_size, 64);
    EXPECT_TRUE(fs::exists(out + "/tokenizer.json"));
    EXPECT_TRUE(fs::exists(out + "/checkpoint-12/model.safetensors"));
    ASSERT_EQ(s.gguf_path, out + "/model-f16.gguf");
    EXPECT_EQ(Model::load(s.gguf_path)->config().num_layers, 2);
}

TEST_F(Pretrain, ResumeEndsInTheSameModelBitForBit) {
    const std::string whole = test::temp_dir() + "/pretrain-whole", resumed = test::temp_dir() + "/pretrain-resumed";
    PretrainOptions o = run(whole);
    o.save_every = 5;
    pretrain(o);
    fs::create_directories(resumed);
    fs::copy(whole + "/checkpoint-5", resumed + "/checkpoint-5", fs::copy_options::recursive);
    PretrainOptions r = run(resumed);
    r.save_every = 5;
    r.resume = resumed;
    pretrain(r);
    EXPECT_EQ(read_text_file(resumed + "/model.safetensors"), read_text_file(whole + "/model.safetensors"));
}

TEST_F(Pretrain, BadConfigsAreRefused) {
    const std::string out = test::temp_dir() + "/dp-bad";
    PretrainOptions o = run(out);
    o.config = test::temp_dir() + "/small-vocab.json";
    write_file_atomic(o.config, nlohmann::json{{"model_type", "llama"}, {"vocab_size", 100}, {"hidden_size", 64},
                                               {"intermediate_size", 128}, {"num_hidden_layers", 1},
                                               {"num_attention_heads", 4}}
                                    .dump());
    expect_error([&] { pretrain(o); }, "tokens");
    o.config = test::temp_dir() + "/gemma.json";
    write_file_atomic(o.config, nlohmann::json{{"model_type", "gemma"}, {"vocab_size", 8192}, {"hidden_size", 64},
                                               {"intermediate_size", 128}, {"num_hidden_layers", 1},
                                               {"num_attention_heads", 4}}
                                    .dump());
    expect_error([&] { pretrain(o); }, "gemma");
    o.config = test::temp_dir() + "/broken.json";
    write_file_atomic(o.config, "{\"model_type\": ");
    expect_error([&] { pretrain(o); }, "broken.json");
    EXPECT_FALSE(fs::exists(out));
}

// --full on the real model: the whole model is trained and written as an HF directory.
TEST_F(Distill, FullFinetuneWritesAModelDirectory) {
    const std::string out = test::temp_dir() + "/dp-full";
    FinetuneOptions o;
    o.model = teacher;
    o.data = data;
    o.full = true;
    o.save_dtype = "f32";
    small_loop(o, out);
    o.lr = 1e-4;
    o.eval_data = eval;
    const TrainingSummary s = finetune(o);
    EXPECT_LT(s.eval_loss_after, s.eval_loss_before);
    const std::unique_ptr<Model> model = Model::load(out);
    EXPECT_EQ(model->config().num_layers, 8);
    EXPECT_EQ(nlohmann::json::parse(read_text_file(out + "/config.json"))["dtype"], "float32");
    o.output = test::temp_dir() + "/dp-full-qlora";
    o.qlora = true;
    expect_error([&] { finetune(o); }, "--qlora");
}

}  // namespace
}  // namespace slm
