// Run-time CPU feature detection (cpuid through GCC's builtins) for kernel dispatch.
#include "kernels/cpu/isa.h"

#include <cstdlib>
#include <string_view>

namespace slm::kernels {

bool isa_supported(Isa isa) {
    switch (isa) {
    case Isa::portable: return true;
    case Isa::avx2:
#if defined(__x86_64__)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
        return false;
#endif
    case Isa::avx512:
#if defined(__x86_64__)
        return isa_supported(Isa::avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vnni");
#else
        return false;
#endif
    }
    return false;
}

std::string_view isa_name(Isa isa) {
    switch (isa) {
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    default: return "portable";
    }
}

Isa best_isa() {
    static const Isa chosen = [] {
        // SLM_KERNELS_ISA caps the level (portable, avx2): for comparisons and for testing the
        // lower levels end to end on a machine that has the higher ones.
        Isa cap = Isa::avx512;
        if (const char* forced = std::getenv("SLM_KERNELS_ISA"))
            for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512})
                if (isa_name(isa) == forced) cap = isa;
        for (Isa isa : {Isa::avx512, Isa::avx2})
            if (isa <= cap && isa_supported(isa)) return isa;
        return Isa::portable;
    }();
    return chosen;
}

}  // namespace slm::kernels
