// Whether kernels go out as programmatic dependent launches (dependent_launch.cuh): asked of the
// current device once; SLM_CUDA_PDL=0 turns them off (for comparisons).
#include "kernels/cuda/dependent_launch.cuh"

#include <cstdlib>
#include <cstring>

namespace slm::cuda::launch {

bool dependent_launch_enabled() {
    static const bool enabled = [] {
        const char* env = std::getenv("SLM_CUDA_PDL");
        if (env != nullptr && std::strcmp(env, "0") == 0) return false;
        int device = 0, major = 0;
        if (cudaGetDevice(&device) != cudaSuccess) return false;
        if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) return false;
        return major >= 9;
    }();
    return enabled;
}

}  // namespace slm::cuda::launch
