// Device memory and errors for the CUDA kernels: a CUDA status turned into slm::Error, memory owned
// on the GPU (DeviceBuffer), and copies between host and device.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace slm::cuda {

// Throws slm::Error naming `what` and CUDA's message when `status` is not cudaSuccess.
void check(cudaError_t status, const char* what);

// Whether a CUDA device is present and usable (false, not an error, on a machine without one).
bool device_available();

// Device memory of `bytes` bytes (uninitialised), freed with the object.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    static DeviceBuffer allocate(size_t bytes);
    // ... set to zeros (synchronously), for memory a kernel expects zeroed (attention's counts).
    static DeviceBuffer allocate_zeroed(size_t bytes);

    void* data() const { return data_; }
    size_t size() const { return size_; }
    template <typename T> T* as() const { return static_cast<T*>(data_); }

    DeviceBuffer(DeviceBuffer&& other) noexcept;
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer();

private:
    void* data_ = nullptr;
    size_t size_ = 0;
};

// Synchronous copies (the default stream): for set-up and tests, not for a decode step.
void copy_to_device(void* device_dst, const void* host_src, size_t bytes);
void copy_to_host(void* host_dst, const void* device_src, size_t bytes);

}  // namespace slm::cuda
