// Programmatic dependent launch (sm_90 and later): a kernel queued with launch_dependent may be
// scheduled while the kernel before it in the stream is still running. Its blocks first wait for
// that kernel to finish and its writes to be visible (follow_previous_kernel, the kernel's first
// statement), then let the next kernel be scheduled, so that what a launch costs between two
// kernels of a decode step's graph (about 2 us, measured against the kernels' own time) overlaps
// the kernel before. On older GPUs, or with SLM_CUDA_PDL=0, the launch is a plain one.
#pragma once

#include <cuda_runtime.h>

namespace slm::cuda::launch {

__device__ __forceinline__ void follow_previous_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Whether this GPU takes dependent launches (compute capability 9 or later) and SLM_CUDA_PDL is
// not 0; asked once.
bool dependent_launch_enabled();

// kernel<<<grid, block, 0, stream>>>(args...), as a dependent launch when enabled. The kernel must
// call follow_previous_kernel() before it reads or writes memory.
template <typename... Params, typename... Args>
void launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream, Args... args) {
    cudaLaunchAttribute attribute{};
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config{};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = 0;
    config.stream = stream;
    config.attrs = &attribute;
    config.numAttrs = dependent_launch_enabled() ? 1 : 0;
    cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
}

}  // namespace slm::cuda::launch
