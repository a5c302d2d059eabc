// The AVX-512 level's GEMM: gemm_x86.h compiled with AVX-512 F/BW/VL/DQ and VNNI whatever the build
// flags, with vpdpbusd products on ymm; used only where isa_supported(avx512). Every non-intrinsic header
// comes before the target pragma (see row_dot_avx2.cpp).
#include "kernels/cpu/gemm.h"

#if defined(__x86_64__)
#include "kernels/cpu/block32_formats.h"
#include "kernels/cpu/interleaved_rows.h"
#include "kernels/cpu/kquant_scales.h"
#include "kernels/cpu/scratch.h"
#include "quant/blocks.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

// GCC 12's AVX-512 intrinsics start from self-initialized "undefined" vectors, which
// -Wmaybe-uninitialized reports at every use.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#include <immintrin.h>

#define SLM_GEMM_X86_AVX512 1

#include "kernels/cpu/gemm_x86.h"
#endif

namespace slm::kernels {

#if defined(__x86_64__)
const GemmTable& gemms_avx512(Layout layout) {
    static constexpr GemmTable kRowTable = make_row_table(), kInterleavedTable = make_interleaved_table();
    return layout == Layout::interleaved8 ? kInterleavedTable : kRowTable;
}
#else
const GemmTable& gemms_avx512(Layout) {
    static constexpr GemmTable kEmpty{};
    return kEmpty;
}
#endif

}  // namespace slm::kernels
