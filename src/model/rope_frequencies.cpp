// Rotary inverse frequencies with the scaling of config.json folded in, computed as transformers'
// rope initialisers do (modeling_rope_utils): default, linear, dynamic (below its threshold it is
// the default), llama3, yarn and longrope (Phi-3: short and long factors).
#include <slm/error.h>
#include <slm/model.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace slm {

namespace {

// Yarn: the dimension index at which a wavelength makes `rotations` turns over the original context.
double yarn_correction_dim(double rotations, int dim, double base, double original_max) {
    return (dim * std::log(original_max / (rotations * 2.0 * std::numbers::pi))) / (2.0 * std::log(base));
}

double yarn_mscale(double factor) { return factor <= 1.0 ? 1.0 : 0.1 * std::log(factor) + 1.0; }

void apply_llama3(const RopeScaling& s, std::vector<float>& inv_freq) {
    const double old_ctx = s.original_max_position > 0 ? s.original_max_position : 8192;
    const double low_wavelen = old_ctx / s.low_freq_factor, high_wavelen = old_ctx / s.high_freq_factor;
    for (float& f : inv_freq) {
        const double wavelen = 2.0 * std::numbers::pi / f;
        if (wavelen > low_wavelen) {
            f = float(f / s.factor);
        } else if (wavelen >= high_wavelen) {  // medium frequencies: smooth blend of both
            const double smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
            f = float((1.0 - smooth) * f / s.factor + smooth * f);
        }
    }
}

void apply_yarn(const ModelConfig& c, RopeFrequencies& r) {
    const RopeScaling& s = c.rope_scaling;
    const int dim = rotary_dim(c);
    const double base = c.rope_theta;
    const double original_max = s.original_max_position > 0 ? s.original_max_position : c.max_position;
    // transformers: when original_max_position_embeddings is given, the factor is the ratio of
    // the context lengths (DeepSeek-V3 convention); otherwise the configured factor.
    double factor = s.factor;
    if (s.original_max_position > 0 && c.max_position > 0) factor = double(c.max_position) / s.original_max_position;
    r.mscale = float(s.attention_factor > 0 ? s.attention_factor : yarn_mscale(factor));
    double low = std::floor(yarn_correction_dim(s.beta_fast, dim, base, original_max));
    double high = std::ceil(yarn_correction_dim(s.beta_slow, dim, base, original_max));
    low = std::max(low, 0.0);
    high = std::min(high, double(dim - 1));
    if (low == high) high += 0.001;
    for (size_t i = 0; i < r.inv_freq.size(); ++i) {
        const double extrapolation = r.inv_freq[i];
        const double interpolation = extrapolation / factor;
        const double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
        const double extrapolation_weight = 1.0 - ramp;
        r.inv_freq[i] = float(interpolation * (1.0 - extrapolation_weight) + extrapolation * extrapolation_weight);
    }
}

// LongRoPE: each base frequency divided by its short factor, or by its long one for contexts past
// original_max_position; both scaled on cos/sin by sqrt(1 + ln(factor) / ln(original)), the factor
// being the ratio of the context lengths unless the config gives one.
void apply_longrope(const ModelConfig& c, RopeFrequencies& r) {
    const RopeScaling& s = c.rope_scaling;
    const size_t half = r.inv_freq.size();
    if (s.short_factor.size() != half || s.long_factor.size() != half)
        fail("model config: longrope needs {} short and long factors (head_dim / 2), found {} and {}", half,
             s.short_factor.size(), s.long_factor.size());
    const int original = s.original_max_position > 0 ? s.original_max_position : c.max_position;
    if (original <= 0) fail("model config: longrope needs original_max_position_embeddings");
    const double factor = s.factor > 0 ? s.factor : double(c.max_position) / original;
    // The config's attention_factor (GGUF: rope.scaling.attn_factor) where given, else transformers' default.
    r.mscale = s.attention_factor > 0 ? float(s.attention_factor)
               : factor <= 1.0      ? 1.0f
                                    : float(std::sqrt(1.0 + std::log(factor) / std::log(double(original))));
    const std::vector<float> base = r.inv_freq;
    r.long_inv_freq.resize(half);
    for (size_t i = 0; i < half; ++i) {
        // transformers: 1 / (ext_factor * base^(2i/d)) in float32.
        r.inv_freq[i] = float(double(base[i]) / double(float(s.short_factor[i])));
        r.long_inv_freq[i] = float(double(base[i]) / double(float(s.long_factor[i])));
    }
    r.long_context = original;
}

}  // namespace

int rotary_dim(const ModelConfig& c) { return int(double(c.head_dim) * c.partial_rotary_factor); }

RopeFrequencies rope_frequencies(const ModelConfig& c) {
    const int dim = rotary_dim(c);
    if (dim <= 0 || dim % 2 != 0 || dim > c.head_dim)
        fail("model config: rope turns {} of head_dim {} dimensions (partial_rotary_factor {}): expected a positive even "
             "number at most head_dim", dim, c.head_dim, c.partial_rotary_factor);
    RopeFrequencies r;
    const int half = dim / 2;
    r.inv_freq.resize(size_t(half));
    // transformers: 1 / base^(arange(0, dim, 2) / dim), the exponent computed in float32.
    for (int i = 0; i < half; ++i)
        r.inv_freq[size_t(i)] = float(1.0 / std::pow(c.rope_theta, double(float(2 * i) / float(dim))));
    const RopeScaling& s = c.rope_scaling;
    if (s.type == "default" || s.type.empty() || s.type == "dynamic") {
        // dynamic NTK changes the frequencies only past the original context; slm's context is
        // limited to the model's max_position, where it equals the default.
    } else if (s.type == "linear") {
        for (float& f : r.inv_freq) f = float(f / s.factor);
    } else if (s.type == "llama3") {
        apply_llama3(s, r.inv_freq);
    } else if (s.type == "yarn") {
        apply_yarn(c, r);
    } else if (s.type == "longrope") {
        apply_longrope(c, r);
    } else {
        fail("model config: rope scaling type '{}' is not supported (default, linear, dynamic, llama3, yarn, longrope)",
             s.type);
    }
    return r;
}

}  // namespace slm
