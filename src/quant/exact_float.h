// Included first by the reference quantizers: turns off fused multiply-add contraction for the
// rest of the file, so that float results round exactly as ggml's and bitsandbytes' reference
// code (built without contraction) round them. GCC contracts by default even in ISO C++ mode.
#pragma once

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
