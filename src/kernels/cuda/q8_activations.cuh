// Activations in 8 bits, as the quantized matvec kernels read them (ggml's q8_1 with an f32
// scale): n values as n codes, then one (d, d * sum of codes) per 32 values, d = max |x| / 127 and
// code = round(x / d). One warp makes a group, a lane a value; the kernels that write an
// activation the matvecs read next (rms_norm, the gated MLP activations) call it too, so that the
// fused write and quantize_q8 give the same bits.
#pragma once

#include <cstdint>

namespace slm::cuda::launch {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// The lane's value v of group `group` (all 32 lanes of the warp call it, each with its value).
__device__ __forceinline__ void quantize_group(float v, int64_t group, int8_t* __restrict__ codes,
                                               float2* __restrict__ ds) {
    const int lane = threadIdx.x % 32;
    const float amax = warp_max(fabsf(v));
    const float d = amax / 127.0f;
    const int q = d == 0.0f ? 0 : int(roundf(v / d));
    codes[group * 32 + lane] = int8_t(q);
    const float sum = warp_sum(float(q));
    if (lane == 0) ds[group] = make_float2(d, d * sum);
}

// Where the codes and scales of n values lie in a q8 buffer.
__host__ __device__ __forceinline__ int8_t* q8_codes(void* q8) { return static_cast<int8_t*>(q8); }
__host__ __device__ __forceinline__ float2* q8_scales(void* q8, int64_t n) {
    return reinterpret_cast<float2*>(static_cast<int8_t*>(q8) + n);
}

}  // namespace slm::cuda::launch
