// Choosing where a model runs: device names, and a build or machine without a GPU answering a
// request for one with an error that says what is missing (not a crash, not a silent CPU run).
#include <slm/error.h>
#include <slm/model.h>

#include "model/backend.h"
#include "model/fixture_models.h"
#include "testing/testing.h"

#include <gtest/gtest.h>

namespace slm {
namespace {

TEST(DeviceChoice, NamesAreCpuCudaOrAuto) {
    EXPECT_EQ(device_from_name("cpu"), Device::cpu);
    EXPECT_EQ(device_from_name("cuda"), Device::cuda);
    EXPECT_EQ(device_from_name("auto"), model::cuda_available() ? Device::cuda : Device::cpu);
    try {
        device_from_name("tpu");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cpu, cuda, auto"), std::string::npos) << e.what();
    }
}

TEST(DeviceChoice, TheGpuWithoutOneIsAClearError) {
    if (model::cuda_available()) GTEST_SKIP() << "this machine has a GPU (tests/cuda covers it)";
    const std::string path = test::fixture_model_dir("llama");
    ModelOptions options;
    options.device = Device::cuda;
    try {
        Model::load(path, options);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
    }
    EXPECT_THROW(model::allocate_zeroed(Device::cuda, 64), Error);
}

TEST(DeviceChoice, ACacheOnAnotherDeviceIsRefused) {
    const std::unique_ptr<Model> model = Model::load(test::fixture_model_dir("llama"));
    EXPECT_EQ(model->device(), Device::cpu);
    if (!model::cuda_available()) GTEST_SKIP() << "no GPU to put a cache on";
    KvCache cache(model->config(), 16, 1, DType::f16, Device::cuda);
    Batch batch;
    batch.add(1, 0, 0, true);
    std::vector<float> logits;
    EXPECT_THROW(model->forward(batch, cache, logits, nullptr), Error);
}

}  // namespace
}  // namespace slm
