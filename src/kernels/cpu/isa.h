// Instruction-set levels the CPU kernels are compiled for, and the best one this CPU runs.
// Every level's kernels are always compiled (the AVX2 ones through a target pragma), so the
// portable fallback is built and tested on every machine and dispatch happens at run time.
#pragma once

#include <string_view>

namespace slm::kernels {

// In order: each level runs on a CPU only if the ones before it do. avx512: AVX-512 F, BW, VL, DQ
// and VNNI (Zen 4 and later, Ice Lake and later); where it has no kernel of its own, it takes
// AVX2's.
enum class Isa { portable, avx2, avx512 };

// The fastest level this CPU supports, at most SLM_KERNELS_ISA (portable or avx2) where that is
// set: for comparisons, and for testing a lower level end to end. Decided once per process.
Isa best_isa();
bool isa_supported(Isa isa);
std::string_view isa_name(Isa isa);

}  // namespace slm::kernels
