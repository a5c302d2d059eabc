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
    }
    return false;
}

std::string_view isa_name(Isa isa) { return isa == Isa::avx2 ? "avx2" : "portable"; }

Isa best_isa() {
    static const Isa chosen = [] {
        const char* forced = std::getenv("SLM_KERNELS_ISA");
        if (forced != nullptr && std::string_view(forced) == "portable") return Isa::portable;
        return isa_supported(Isa::avx2) ? Isa::avx2 : Isa::portable;
    }();
    return chosen;
}

}  // namespace slm::kernels
