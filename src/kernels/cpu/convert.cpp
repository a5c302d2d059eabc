// f16 -> f32 row conversion: eight at a time with F16C (vcvtph2ps) where available, else through
// the DType table's scalar reference.
#include "kernels/cpu/convert.h"

#include "kernels/cpu/isa.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace slm::kernels {
namespace {

#if defined(__x86_64__)
__attribute__((target("avx2,f16c"))) void f16_row_f16c(const uint16_t* src, float* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}
#endif

}  // namespace

void cache_row_to_f32(DType dtype, const void* src, float* dst, int64_t n) {
    if (dtype == DType::f32) {
        std::memcpy(dst, src, size_t(n) * sizeof(float));
        return;
    }
#if defined(__x86_64__)
    if (dtype == DType::f16 && best_isa() >= Isa::avx2) {
        f16_row_f16c(static_cast<const uint16_t*>(src), dst, n);
        return;
    }
#endif
    traits(dtype).to_float(src, dst, n);
}

}  // namespace slm::kernels
