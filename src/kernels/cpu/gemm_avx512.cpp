// The AVX-512 level's GEMM: gemm_x86.h compiled with AVX-512 F/BW/VL/DQ and VNNI whatever the
// build flags, with vpdpbusd products; called only where isa_supported(avx512).
#if defined(__x86_64__)
#define SLM_GEMM_X86_AVX512 1
#include "kernels/cpu/gemm_x86.h"

const slm::kernels::GemmTable& slm::kernels::gemms_avx512(Layout layout) { return this_level_gemms(layout); }
#endif
