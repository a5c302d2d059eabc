// Full-parameter training (TrainModel over ModelParameters): every weight's gradient against
// central finite differences of the pass's own loss, and against PyTorch's (tests/fixtures/train,
// made by tests/fixtures/make_train_fixtures.py) on the tiny f32 llama (GQA) and qwen2 (biases,
// tied embeddings) models of tests/fixtures/lora; a saved model loads back with the same logits,
// and transformers reads a model slm train wrote as slm does.
#include <slm/model.h>
#include <slm/safetensors.h>

#include "testing/testing.h"
#include "train/dataset.h"
#include "train/model_parameters.h"
#include "train/train_fixtures.h"
#include "train/train_model.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace slm::train {
namespace {

std::string base_dir(const std::string& name) { return test::fixtures_dir() + "/lora/" + name + "/base"; }

using test_fixtures::read_json;
using test_fixtures::scaled_error;

// The LoRA fixtures' batch: two sequences, the first with a four-token prompt.
TrainBatch fixture_batch() {
    return test_fixtures::batch_of(read_json(test::fixtures_dir() + "/lora/llama/reference.json"));
}

class FullTraining : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        params = std::make_unique<ModelParameters>(ModelParameters::from_hf_directory(base_dir(GetParam()), pool));
        batch = fixture_batch();
    }
    ThreadPool pool{2};
    std::unique_ptr<ModelParameters> params;
    TrainBatch batch;
};

// Each tensor's three largest gradients against (L(w + h) - L(w - h)) / 2h of the mean loss.
TEST_P(FullTraining, EveryWeightGradientMatchesFiniteDifferences) {
    TrainModel model(*params);
    PassOptions opt;
    opt.grad_scale = 1.0f / float(batch.target_count());
    model.forward_backward(batch, opt, &pool);
    auto mean_loss = [&] { return model.evaluate(batch, &pool).mean(); };
    int checked = 0;
    for (ModelParameters::Entry& e : params->entries()) {
        std::vector<size_t> order(e.grad.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::partial_sort(order.begin(), order.begin() + 3, order.end(),
                          [&](size_t a, size_t b) { return std::fabs(e.grad[a]) > std::fabs(e.grad[b]); });
        for (int j = 0; j < 3; ++j) {
            const size_t i = order[size_t(j)];
            const float w = e.value[i], h = 1e-2f * std::max(1.0f, std::fabs(w));
            e.value[i] = w + h;
            const double up = mean_loss();
            e.value[i] = w - h;
            const double down = mean_loss();
            e.value[i] = w;
            const double fd = (up - down) / (2.0 * double(h));
            EXPECT_NEAR(e.grad[i], fd, 2e-3 + 2e-2 * std::fabs(fd)) << e.name << "[" << i << "]";
            ++checked;
        }
    }
    EXPECT_GE(checked, 3 * 20);
}

// Loss and every weight's gradient equal PyTorch's for the same batch (mean over its targets).
TEST_P(FullTraining, LossAndGradientsEqualPyTorch) {
    const std::string dir = test::fixtures_dir() + "/train/full/" + GetParam();
    const nlohmann::json ref = read_json(dir + "/reference.json");
    TrainModel model(*params);
    PassOptions opt;
    opt.grad_scale = 1.0f / float(batch.target_count());
    const PassLoss loss = model.forward_backward(batch, opt, &pool);
    ASSERT_EQ(loss.tokens, ref["targets"].get<int64_t>());
    EXPECT_NEAR(loss.mean(), ref["loss"].get<double>(), 1e-5 * ref["loss"].get<double>());
    const auto grads = SafetensorsFile::open(dir + "/grads.safetensors");
    ASSERT_EQ(grads->tensor_names().size(), params->entries().size());
    for (const ModelParameters::Entry& e : params->entries()) {
        const std::optional<Tensor> g = grads->find_tensor(e.name);
        ASSERT_TRUE(g) << e.name << " has no PyTorch gradient";
        ASSERT_EQ(g->numel(), int64_t(e.grad.size())) << e.name;
        EXPECT_LT(scaled_error(e.grad.data(), g->as<float>(), g->numel()), 1e-4) << e.name;
    }
}

// A saved directory loads as a Model whose logits are the training pass's (f32: exactly the same
// weights), and the config and tokenizer-less side files are written.
TEST_P(FullTraining, SavedModelLoadsWithTheSameLogits) {
    TrainModel model(*params);
    std::vector<float> ours;
    const int64_t rows = model.target_logits(batch, ours, &pool);
    const std::string out = test::temp_dir() + "/saved-" + GetParam();
    params->save_hf_directory(out, DType::f32, base_dir(GetParam()), pool);
    const std::unique_ptr<Model> loaded = Model::load(out);
    ThreadPool one{1};
    TrainModel again(*loaded);
    std::vector<float> theirs;
    ASSERT_EQ(again.target_logits(batch, theirs, &one), rows);
    EXPECT_LT(scaled_error(ours.data(), theirs.data(), int64_t(ours.size())), 1e-5);
    EXPECT_EQ(read_json(out + "/config.json")["dtype"], "float32");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FullTraining, ::testing::Values("llama", "qwen2"));

// A model `slm train` wrote (tests/fixtures/train/ours/scratch-qwen2, see its case.json), loaded by
// transformers on the device: its logits at every position of a prompt equal slm's within 1e-4 of
// the largest.
TEST(TrainedModel, TransformersReadsWhatSlmTrainWrote) {
    const std::string dir = test::fixtures_dir() + "/train/ours/scratch-qwen2";
    const nlohmann::json c = read_json(dir + "/case.json"), hf = read_json(dir + "/hf_logits.json");
    const std::unique_ptr<Model> model = Model::load(dir + "/" + c["model"].get<std::string>());
    const std::vector<int32_t> prompt = c["prompt"].get<std::vector<int32_t>>();
    TrainBatch batch;
    for (size_t t = 0; t < prompt.size(); ++t) {
        batch.tokens.push_back(prompt[t]);
        batch.positions.push_back(int32_t(t));
        batch.seg_begin.push_back(0);
        batch.labels.push_back(0);  // every position's logits
    }
    batch.rows = 1;
    ThreadPool pool{2};
    TrainModel frozen(*model);
    std::vector<float> ours;
    ASSERT_EQ(frozen.target_logits(batch, ours, &pool), int64_t(prompt.size()));
    const std::vector<float> theirs = hf["logits"].get<std::vector<float>>();
    ASSERT_EQ(theirs.size(), ours.size());
    EXPECT_LT(scaled_error(ours.data(), theirs.data(), int64_t(ours.size())), 1e-4);
}

}  // namespace
}  // namespace slm::train
