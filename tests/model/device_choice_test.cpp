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

// --gpu-layers 0 keeps the whole model on the CPU, even when the GPU is asked for (as llama.cpp's
// -ngl 0): it runs, with a cache laid out for it, as the CPU model does.
TEST(DeviceChoice, NoGpuLayersIsTheCpu) {
    const std::string path = test::fixture_model_dir("llama");
    ModelOptions options;
    options.device = Device::cuda;
    options.gpu_layers = 0;
    const std::unique_ptr<Model> none = Model::load(path, options), cpu = Model::load(path);
    EXPECT_EQ(none->device(), Device::cpu);
    EXPECT_EQ(none->gpu_layers(), 0);
    EXPECT_EQ(cpu->gpu_layers(), 0);
    KvCache a(*none, 16, 1, DType::f32), b(*cpu, 16, 1, DType::f32);
    EXPECT_EQ(a.device(0), Device::cpu);
    EXPECT_EQ(a.device_layers(), 0);
    Batch batch;
    for (int i = 0; i < 4; ++i) batch.add(3 + i, i, 0, i == 3);
    std::vector<float> la, lb;
    none->forward(batch, a, la, nullptr);
    cpu->forward(batch, b, lb, nullptr);
    EXPECT_EQ(la, lb);

    options.gpu_layers = -2;
    try {
        Model::load(path, options);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("-2 GPU layers"), std::string::npos) << e.what();
    }
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
