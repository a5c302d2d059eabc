// Support for the CUDA kernel tests: a skip when no GPU is present, device copies of host data
// (vectors and weight tensors), and the error measure of ggml's test-backend-ops.
#pragma once

#include "kernels/cuda/device.h"
#include "kernels/cuda/ops.h"

#include <slm/tensor.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace slm::cuda::test {

// Skips the current test unless a CUDA device is usable (CI's machine has none).
#define SLM_REQUIRE_CUDA() \
    if (!::slm::cuda::device_available()) GTEST_SKIP() << "no CUDA device on this machine"

template <typename T>
DeviceBuffer to_device(const std::vector<T>& v) {
    DeviceBuffer b = DeviceBuffer::allocate(v.size() * sizeof(T));
    copy_to_device(b.data(), v.data(), v.size() * sizeof(T));
    return b;
}

template <typename T>
std::vector<T> to_host(const DeviceBuffer& b, size_t n) {
    std::vector<T> v(n);
    copy_to_host(v.data(), b.data(), n * sizeof(T));
    return v;
}

// A host weight tensor copied to the device as the backend places weights (copy_weight_to_device):
// the same dtype, shape and size, device == cuda.
struct DeviceTensor {
    DeviceBuffer buffer;
    Tensor tensor;
    explicit DeviceTensor(const Tensor& host) : buffer(DeviceBuffer::allocate(host.nbytes())), tensor(host) {
        copy_weight_to_device(host, buffer.data());
        tensor.data = buffer.data();
        tensor.device = Device::cuda;
    }
};

// Normalised mean squared error sum (a - b)^2 / sum b^2 (test-backend-ops' measure).
inline double nmse(const std::vector<float>& a, const std::vector<float>& b) {
    double err = 0, ref = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        err += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
        ref += double(b[i]) * double(b[i]);
    }
    return ref == 0 ? err : err / ref;
}

}  // namespace slm::cuda::test
