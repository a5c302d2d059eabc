// The device seam of the model: which devices this build runs on, memory on them for the KV cache,
// and the GPU's backend where the build has one (SLM_CUDA: cuda/cuda_backend.cpp); a CPU-only
// build answers a request for the GPU with an error saying how to get one.
#include "model/backend.h"

#include <slm/error.h>
#include <slm/model.h>

#include <cstdlib>
#include <cstring>

#ifdef SLM_WITH_CUDA
#include "model/cuda/cuda_backend.h"
#endif

namespace slm {

const char* device_name(Device device) { return device == Device::cuda ? "cuda" : "cpu"; }

Device device_from_name(const std::string& name) {
    if (name == "cpu") return Device::cpu;
    if (name == "cuda") return Device::cuda;
    if (name == "auto") return model::cuda_available() ? Device::cuda : Device::cpu;
    fail("device '{}' is not one of cpu, cuda, auto", name);
}

}  // namespace slm

namespace slm::model {

#ifdef SLM_WITH_CUDA

bool cuda_available() { return cuda_backend::available(); }
std::unique_ptr<Backend> make_cuda_backend(const Model& model) { return cuda_backend::make(model); }

#else

bool cuda_available() { return false; }
std::unique_ptr<Backend> make_cuda_backend(const Model& model) {
    fail("{}: this slm was built without CUDA; build it with -DSLM_CUDA=ON (CUDA toolkit) to run on the GPU",
         model.files().path);
}

#endif

std::shared_ptr<uint8_t> allocate_zeroed(Device device, size_t bytes) {
#ifdef SLM_WITH_CUDA
    if (device == Device::cuda) return cuda_backend::allocate_zeroed(bytes);
#endif
    if (device != Device::cpu) fail("this slm was built without CUDA: no {} memory", device_name(device));
    // calloc: zero pages are mapped lazily, so a long context costs only what it uses.
    auto* p = static_cast<uint8_t*>(std::calloc(bytes > 0 ? bytes : 1, 1));
    if (p == nullptr) fail("out of memory allocating {} bytes", bytes);
    return std::shared_ptr<uint8_t>(p, [](uint8_t* q) { std::free(q); });
}

void copy_bytes(Device device, void* dst, const void* src, size_t bytes) {
#ifdef SLM_WITH_CUDA
    if (device == Device::cuda) return cuda_backend::copy_bytes(dst, src, bytes);
#endif
    if (device != Device::cpu) fail("this slm was built without CUDA: no {} memory", device_name(device));
    if (bytes > 0) std::memcpy(dst, src, bytes);
}

}  // namespace slm::model
