// Full-parameter training (TrainModel over ModelParameters): every weight's gradient against
// central finite differences of the pass's own loss on the tiny f32 llama (GQA) and qwen2 (biases,
// tied embeddings) models of tests/fixtures/lora; a saved model loads back with the same logits.
#include <slm/model.h>
#include <slm/safetensors.h>

#include "testing/testing.h"
#include "train/dataset.h"
#include "train/model_parameters.h"
#include "train/train_model.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace slm::train {
namespace {

std::string base_dir(const std::string& name) { return test::fixtures_dir() + "/lora/" + name + "/base"; }

nlohmann::json read_json(const std::string& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

// The LoRA fixtures' batch: two sequences, the first with a four-token prompt.
TrainBatch fixture_batch() {
    const nlohmann::json ref = read_json(test::fixtures_dir() + "/lora/llama/reference.json");
    Dataset data;
    for (const auto& seq : ref["batch"]) {
        Example e;
        e.tokens = seq["tokens"].get<std::vector<int32_t>>();
        e.target = seq["target"].get<std::vector<uint8_t>>();
        data.examples.push_back(std::move(e));
    }
    return make_batch(data, {{0}, {1}});
}

double scaled_error(const float* a, const float* b, int64_t n) {
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < n; ++i) {
        diff = std::max(diff, double(std::fabs(a[i] - b[i])));
        scale = std::max(scale, double(std::fabs(b[i])));
    }
    return scale > 0 ? diff / scale : diff;
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

}  // namespace
}  // namespace slm::train
