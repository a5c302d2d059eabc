// The AVX2 level's GEMM: gemm_x86.h compiled for AVX2 + FMA + F16C whatever the build flags, with
// vpmaddubsw products; called only where isa_supported(avx2).
#if defined(__x86_64__)
#define SLM_GEMM_X86_AVX512 0
#include "kernels/cpu/gemm_x86.h"

const slm::kernels::GemmTable& slm::kernels::gemms_avx2(Layout layout) { return this_level_gemms(layout); }
#endif
