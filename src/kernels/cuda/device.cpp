// Device memory and CUDA errors (device.h): the host side, compiled by the C++ compiler so that
// errors can be slm::Error with fmt messages (nvcc cannot compile fmt's compile-time checks).
#include "kernels/cuda/device.h"

#include <slm/error.h>

#include <utility>

namespace slm::cuda {

void check(cudaError_t status, const char* what) {
    if (status != cudaSuccess) fail("CUDA: {}: {}", what, cudaGetErrorString(status));
}

bool device_available() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky "no device" status for later calls
        return false;
    }
    return count > 0;
}

DeviceBuffer DeviceBuffer::allocate(size_t bytes) {
    DeviceBuffer b;
    if (bytes == 0) return b;
    const cudaError_t status = cudaMalloc(&b.data_, bytes);
    if (status != cudaSuccess) fail("CUDA: allocating {} bytes on the device: {}", bytes, cudaGetErrorString(status));
    b.size_ = bytes;
    return b;
}

DeviceBuffer DeviceBuffer::allocate_zeroed(size_t bytes) {
    DeviceBuffer b = allocate(bytes);
    if (bytes > 0) check(cudaMemset(b.data_, 0, bytes), "zeroing device memory");
    return b;
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
        if (data_ != nullptr) cudaFree(data_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

DeviceBuffer::~DeviceBuffer() {
    if (data_ != nullptr) cudaFree(data_);
}

void copy_to_device(void* device_dst, const void* host_src, size_t bytes) {
    if (bytes > 0) check(cudaMemcpy(device_dst, host_src, bytes, cudaMemcpyHostToDevice), "copy to device");
}

void copy_to_host(void* host_dst, const void* device_src, size_t bytes) {
    if (bytes > 0) check(cudaMemcpy(host_dst, device_src, bytes, cudaMemcpyDeviceToHost), "copy to host");
}

}  // namespace slm::cuda
