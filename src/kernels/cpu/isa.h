// Instruction-set levels the CPU kernels are compiled for, and the best one this CPU runs.
// Every level's kernels are always compiled (the AVX2 ones through a target pragma), so the
// portable fallback is built and tested on every machine and dispatch happens at run time.
#pragma once

#include <string_view>

namespace slm::kernels {

enum class Isa { portable, avx2 };

// The fastest level this CPU supports; SLM_KERNELS_ISA=portable forces the fallback (for
// comparisons and for testing the fallback end to end). Decided once per process.
Isa best_isa();
bool isa_supported(Isa isa);
std::string_view isa_name(Isa isa);

}  // namespace slm::kernels
