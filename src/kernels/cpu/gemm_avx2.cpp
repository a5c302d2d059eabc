// The AVX2 level's GEMM: gemm_x86.h compiled for AVX2 + FMA + F16C whatever the build flags, with
// vpmaddubsw products; used only where isa_supported(avx2). Every non-intrinsic header comes
// before the target pragma (see row_dot_avx2.cpp).
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

#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#define SLM_GEMM_X86_AVX512 0

#include "kernels/cpu/gemm_x86.h"
#endif

namespace slm::kernels {

#if defined(__x86_64__)
const GemmTable& gemms_avx2(Layout layout) {
    static constexpr GemmTable kRowTable = make_row_table(), kInterleavedTable = make_interleaved_table();
    return layout == Layout::interleaved8 ? kInterleavedTable : kRowTable;
}
#else
const GemmTable& gemms_avx2(Layout) {
    static constexpr GemmTable kEmpty{};
    return kEmpty;
}
#endif

}  // namespace slm::kernels
