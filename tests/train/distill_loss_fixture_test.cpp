// The distillation pass against PyTorch (tests/fixtures/train/distill, made by
// tests/fixtures/make_train_fixtures.py): teacher the tiny llama, student the tiny qwen2 trained
// fully, the fixed batch of the LoRA fixtures; (1 - α)·CE + α·τ²·KL with the teacher's logits
// dense (computed in process, as `slm distill` runs it) and as its top 8 plus the tail bucket (as
// the teacher cache keeps them): loss within 1e-5, its two terms, and every student gradient.
#include <slm/model.h>
#include <slm/safetensors.h>

#include "testing/testing.h"
#include "train/dataset.h"
#include "train/model_parameters.h"
#include "train/teacher_cache.h"
#include "train/train_fixtures.h"
#include "train/train_model.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

namespace slm::train {
namespace {

using test_fixtures::read_json;
using test_fixtures::scaled_error;

class DistillFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(DistillFixture, LossTermsAndStudentGradientsEqualPyTorch) {
    const std::string dir = test::fixtures_dir() + "/train/distill/" + GetParam();
    const nlohmann::json ref = read_json(dir + "/reference.json");
    const TrainBatch batch = test_fixtures::batch_of(ref);
    ThreadPool pool{2};

    const std::unique_ptr<Model> teacher_model = Model::load(test::fixtures_dir() + "/lora/llama/base");
    TrainModel teacher(*teacher_model);
    std::vector<float> logits;
    const int64_t rows = teacher.target_logits(batch, logits, &pool);
    ASSERT_EQ(rows, ref["targets"].get<int64_t>());
    const int64_t V = teacher.config().vocab_size;

    const float tau = ref["temperature"].get<float>();
    TeacherTargets targets;
    targets.alpha = ref["alpha"].get<float>();
    targets.temperature = tau;
    const int64_t k = ref["top_k"].get<int64_t>();
    std::vector<int32_t> ids;
    std::vector<float> top, lse;
    if (k == 0) {
        targets.logits = {logits.data(), nullptr, V, V};
    } else {
        ids.resize(size_t(rows * k));
        top.resize(size_t(rows * k));
        for (int64_t r = 0; r < rows; ++r) {
            top_k(logits.data() + r * V, V, k, ids.data() + r * k, top.data() + r * k);
            lse.push_back(float(log_sum_exp(logits.data() + r * V, V, tau)));
        }
        targets.logits = {top.data(), ids.data(), k, k, lse.data()};
    }

    ModelParameters student_params = ModelParameters::from_hf_directory(test::fixtures_dir() + "/lora/qwen2/base", pool);
    TrainModel student(student_params);
    PassOptions opt;
    opt.grad_scale = 1.0f / float(rows);
    opt.teacher = &targets;
    const PassLoss loss = student.forward_backward(batch, opt, &pool);
    EXPECT_NEAR(loss.mean(), ref["loss"].get<double>(), 1e-5 * ref["loss"].get<double>());
    EXPECT_NEAR(loss.ce / double(rows), ref["ce"].get<double>(), 1e-5 * ref["ce"].get<double>());
    EXPECT_NEAR(loss.kl / double(rows), ref["kl"].get<double>(), 1e-4 * ref["kl"].get<double>() + 1e-7);
    const auto grads = SafetensorsFile::open(dir + "/grads.safetensors");
    for (const ModelParameters::Entry& e : student_params.entries()) {
        const std::optional<Tensor> g = grads->find_tensor(e.name);
        ASSERT_TRUE(g) << e.name;
        EXPECT_LT(scaled_error(e.grad.data(), g->as<float>(), g->numel()), 1e-4) << e.name;
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DistillFixture, ::testing::Values("dense", "top8"));

}  // namespace
}  // namespace slm::train
