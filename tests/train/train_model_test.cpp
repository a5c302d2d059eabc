// The LoRA training pass and optimizer against PyTorch + PEFT (tests/fixtures/lora, made by
// tests/fixtures/make_lora_fixtures.py): loss and every LoRA gradient of a fixed batch on tiny f32
// llama (GQA) and qwen2 (bias, tied) models, then four optimizer steps (cosine schedule with
// warmup, clipping, weight decay) ending in PEFT's adapter. Also: accumulation, checkpointing
// and dropout consistency, checked against the pass itself.
#include <slm/lora_adapter.h>
#include <slm/model.h>
#include <slm/safetensors.h>

#include "testing/testing.h"
#include "train/dataset.h"
#include "train/train_fixtures.h"
#include "train/train_model.h"
#include "train/optimizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <slm/error.h>

#include <cmath>
#include <fstream>
#include <random>

namespace slm::train {
namespace {

std::string case_dir(const std::string& name) { return test::fixtures_dir() + "/lora/" + name; }

nlohmann::json reference(const std::string& name) { return test_fixtures::read_json(case_dir(name) + "/reference.json"); }

using test_fixtures::scaled_error;

class LoraFixture : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        model = Model::load(case_dir(GetParam()) + "/base");
        ref = reference(GetParam());
        data = test_fixtures::batch_data(ref);
        batch = make_batch(data, {{0}, {1}});
    }
    std::unique_ptr<Model> model;
    nlohmann::json ref;
    Dataset data;
    TrainBatch batch;
    ThreadPool pool{2};
};

TEST_P(LoraFixture, LossAndGradientsEqualPeft) {
    TrainModel lm(*model, LoraAdapter::load_peft(case_dir(GetParam()) + "/adapter_init"));
    PassOptions opt;
    const int64_t targets = ref["targets"].get<int64_t>();
    ASSERT_EQ(int64_t(batch.target_count()), targets);
    opt.grad_scale = 1.0f / float(targets);
    const PassLoss loss = lm.forward_backward(batch, opt, &pool);
    EXPECT_NEAR(loss.mean(), ref["loss"].get<double>(), 1e-5 * ref["loss"].get<double>());

    const auto grads = SafetensorsFile::open(case_dir(GetParam()) + "/grads.safetensors");
    const auto params = lm.parameters();
    ASSERT_EQ(params.size(), grads->tensor_names().size());
    for (const auto& p : params) {
        const std::optional<Tensor> g = grads->find_tensor(p.name);
        ASSERT_TRUE(g) << p.name;
        ASSERT_EQ(g->numel(), p.size) << p.name;
        EXPECT_LT(scaled_error(p.grad, g->as<float>(), p.size), 1e-4) << p.name;
    }
}

TEST_P(LoraFixture, OptimizerStepsEqualPeftAndTorch) {
    TrainModel lm(*model, LoraAdapter::load_peft(case_dir(GetParam()) + "/adapter_init"));
    const auto& steps = ref["steps"];
    std::vector<ParamSlot> slots;
    for (const auto& p : lm.parameters()) slots.push_back({p.value, p.grad, p.size});
    AdamWOptions adam;
    adam.weight_decay = steps["weight_decay"].get<double>();
    AdamW optimizer(slots, adam);
    const int64_t total = steps["total"].get<int64_t>(), warmup = steps["warmup"].get<int64_t>();
    PassOptions opt;
    opt.grad_scale = 1.0f / float(batch.target_count());
    for (int64_t s = 0; s < total; ++s) {
        const auto& rec = steps["records"][size_t(s)];
        const PassLoss loss = lm.forward_backward(batch, opt, &pool);
        EXPECT_NEAR(loss.mean(), rec["loss"].get<double>(), 1e-5 * rec["loss"].get<double>()) << "step " << s;
        const double norm = clip_grad_norm(slots, steps["max_grad_norm"].get<double>());
        EXPECT_NEAR(norm, rec["grad_norm"].get<double>(), 1e-4 * rec["grad_norm"].get<double>()) << "step " << s;
        const double lr = learning_rate(Schedule::cosine, steps["lr"].get<double>(), s, total, warmup);
        EXPECT_NEAR(lr, rec["lr"].get<double>(), 1e-12) << "step " << s;
        optimizer.step(lr);
        lm.zero_grad();
    }
    const LoraAdapter trained = LoraAdapter::load_peft(case_dir(GetParam()) + "/adapter_trained");
    const LoraAdapter ours = lm.adapter();
    ASSERT_EQ(ours.modules.size(), trained.modules.size());
    for (const LoraModule& m : ours.modules) {
        const LoraModule* t = trained.find(m.module);
        ASSERT_NE(t, nullptr) << m.module;
        EXPECT_LT(scaled_error(m.a.data(), t->a.data(), int64_t(m.a.size())), 1e-4) << m.module;
        EXPECT_LT(scaled_error(m.b.data(), t->b.data(), int64_t(m.b.size())), 1e-4) << m.module;
    }
}

// Gradients of all parameters, flattened.
std::vector<float> all_grads(TrainModel& lm) {
    std::vector<float> g;
    for (const auto& p : lm.parameters()) g.insert(g.end(), p.grad, p.grad + p.size);
    return g;
}

TEST_P(LoraFixture, AccumulationAndCheckpointingGiveTheSameGradients) {
    const LoraAdapter init = LoraAdapter::load_peft(case_dir(GetParam()) + "/adapter_init");
    PassOptions opt;
    opt.grad_scale = 1.0f / float(batch.target_count());

    TrainModel whole(*model, init);
    const PassLoss l_whole = whole.forward_backward(batch, opt, &pool);
    const std::vector<float> g_whole = all_grads(whole);

    // The two sequences as two micro-batches, scaled by the step's target count, add up to it.
    TrainModel split(*model, init);
    const PassLoss l0 = split.forward_backward(make_batch(data, {{0}}), opt, &pool);
    const PassLoss l1 = split.forward_backward(make_batch(data, {{1}}), opt, &pool);
    EXPECT_NEAR(l0.sum + l1.sum, l_whole.sum, 1e-5 * l_whole.sum);
    const std::vector<float> g_split = all_grads(split);
    EXPECT_LT(scaled_error(g_split.data(), g_whole.data(), int64_t(g_whole.size())), 1e-5);

    // Recomputing each layer in the backward runs the same ops on the same inputs: same bits.
    TrainModel ckpt(*model, init);
    opt.checkpointing = true;
    const PassLoss l_ckpt = ckpt.forward_backward(batch, opt, &pool);
    EXPECT_EQ(l_ckpt.sum, l_whole.sum);
    EXPECT_EQ(all_grads(ckpt), g_whole);

    // Packing both sequences into one row (they never see each other) changes nothing either.
    TrainModel packed(*model, init);
    opt.checkpointing = false;
    const PassLoss l_packed = packed.forward_backward(make_batch(data, {{0, 1}}), opt, &pool);
    EXPECT_NEAR(l_packed.sum, l_whole.sum, 1e-5 * l_whole.sum);
    const std::vector<float> g_packed = all_grads(packed);
    EXPECT_LT(scaled_error(g_packed.data(), g_whole.data(), int64_t(g_whole.size())), 1e-5);
}

// With dropout the pass must still be the gradient of its own loss: central differences of the
// loss (same masks: same seed) along a random direction of every A and B.
TEST_P(LoraFixture, DropoutGradientMatchesFiniteDifferences) {
    TrainModel lm(*model, LoraAdapter::load_peft(case_dir(GetParam()) + "/adapter_init"));
    PassOptions opt;
    opt.dropout = 0.3f;
    opt.dropout_seed = 1234;
    opt.grad_scale = 1.0f;
    lm.forward_backward(batch, opt, &pool);
    auto params = lm.parameters();
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    double analytic = 0;
    std::vector<std::vector<float>> dir(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
        dir[i].resize(size_t(params[i].size));
        for (int64_t j = 0; j < params[i].size; ++j) {
            dir[i][size_t(j)] = normal(rng);
            analytic += double(dir[i][size_t(j)]) * params[i].grad[j];
        }
    }
    const float eps = 1e-3f;
    auto loss_at = [&](float t) {
        for (size_t i = 0; i < params.size(); ++i)
            for (int64_t j = 0; j < params[i].size; ++j) params[i].value[j] += t * dir[i][size_t(j)];
        const double l = lm.evaluate(batch, &pool, opt).sum;
        for (size_t i = 0; i < params.size(); ++i)
            for (int64_t j = 0; j < params[i].size; ++j) params[i].value[j] -= t * dir[i][size_t(j)];
        return l;
    };
    const double numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps);
    EXPECT_NEAR(numeric, analytic, 2e-2 * std::fabs(analytic));
    // The masks differ from the no-dropout pass (the option is live) and repeat for a seed.
    PassOptions none;
    EXPECT_NE(lm.evaluate(batch, &pool, opt).sum, lm.evaluate(batch, &pool, none).sum);
    EXPECT_EQ(lm.evaluate(batch, &pool, opt).sum, lm.evaluate(batch, &pool, opt).sum);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LoraFixture, ::testing::Values("llama", "qwen2"));

TEST(LoraTargets, UnknownNamesListTheLinearModules) {
    EXPECT_EQ(parse_targets("all-linear").size(), size_t(kLinearRoles));
    EXPECT_EQ(parse_targets("q_proj, v_proj").size(), size_t(2));
    try {
        parse_targets("q_proj,qkv_proj");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("qkv_proj"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("gate_proj"), std::string::npos);
    }
}

TEST(Schedules, FollowTransformers) {
    // get_cosine_schedule_with_warmup(opt, 10, 100) and the linear one, at a few steps.
    EXPECT_DOUBLE_EQ(learning_rate(Schedule::cosine, 1.0, 0, 100, 10), 0.0);
    EXPECT_DOUBLE_EQ(learning_rate(Schedule::cosine, 1.0, 5, 100, 10), 0.5);
    EXPECT_DOUBLE_EQ(learning_rate(Schedule::cosine, 1.0, 10, 100, 10), 1.0);
    EXPECT_NEAR(learning_rate(Schedule::cosine, 1.0, 55, 100, 10), 0.5, 1e-12);
    EXPECT_NEAR(learning_rate(Schedule::linear, 1.0, 55, 100, 10), 0.5, 1e-12);
    EXPECT_DOUBLE_EQ(learning_rate(Schedule::constant, 1.0, 55, 100, 10), 1.0);
    EXPECT_DOUBLE_EQ(learning_rate(Schedule::linear, 1.0, 100, 100, 10), 0.0);
}

}  // namespace
}  // namespace slm::train
