// The scale searches of ggml's k-quant reference quantizers (make_qx_quants, make_q3_quants,
// make_qkx2_quants): given a group of floats, pick the scale (and minimum) and the integer levels.
// Each reproduces ggml's float arithmetic step by step, so quantized files are bit-identical.
#pragma once

#include <bit>
#include <cstdint>

namespace slm::quant {

// Groups whose largest magnitude is below this are treated as all zero (ggml's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even, the way ggml does it: adding 1.5 * 2^23 leaves the rounded
// integer in the low mantissa bits. Valid for |v| < 2^22, as in ggml (which only asserts it).
inline int nearest_int(float v) {
    const float shifted = v + 12582912.0f;
    return int(std::bit_cast<uint32_t>(shifted) & 0x007fffffu) - 0x00400000;
}

// Symmetric levels l in [-nmax, nmax-1] (stored as l + nmax in `levels`) and the scale that
// minimizes the x^2-weighted squared error; tries 18 perturbed scales around nmax / max.
// ggml's make_qx_quants with rmse_type 1 and no importance weights (used by q6_k).
float fit_symmetric_weighted(int n, int nmax, const float* x, int8_t* levels);

// Symmetric levels in [-nmax, nmax-1] (stored + nmax), then up to 5 rounds of coordinate descent
// on single levels under x^2 weights. ggml's make_q3_quants with do_rmse (used by q3_k).
float fit_symmetric_descent(int n, int nmax, const float* x, int8_t* levels);

// Affine levels in [0, nmax] with x ~ scale * level - min_out (min_out >= 0): tries nstep + 1
// level assignments from scales (nmax + rmin + rdelta * k) / range, refitting scale and minimum
// by weighted least squares, and keeps the lowest weighted error (absolute when use_abs_error,
// else squared). `scratch` holds n bytes. ggml's make_qkx2_quants (used by q2_k, q4_k, q5_k).
float fit_affine(int n, int nmax, const float* x, const float* weights, uint8_t* levels, float* min_out,
                 uint8_t* scratch, float rmin, float rdelta, int nstep, bool use_abs_error);

}  // namespace slm::quant
