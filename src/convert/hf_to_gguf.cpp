// slm convert: a Hugging Face directory -> GGUF in llama.cpp's names, layouts and metadata keys,
// for every architecture of the table (model/architecture.h). Tensors are written in the source's
// order (as llama.cpp's converter does), 1-D tensors as f32, matrices in the chosen type;
// llama-arch q/k rows are permuted for llama.cpp's interleaved rope, Gemma's norm weights (Gemma 3's
// q/k norms too) stored as 1 + w, Phi-3's fused projections kept fused and its longrope factors
// written as tensors, Phi-2's partial rope as rope.dimension_count.
#include <slm/convert.h>
#include <slm/encoder.h>
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/model.h>
#include <slm/model_config.h>
#include <slm/progress.h>

#include "convert/encoder_gguf.h"
#include "convert/gguf_header.h"
#include "convert/gguf_vocab.h"
#include "quant/convert_rows.h"
#include "model/architecture.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

namespace slm {
namespace {

using model::WeightRole;

// What llama.cpp's converter writes per architecture beyond the keys every one gets.
struct GgufWriting {
    std::string_view arch;       // HF model_type
    std::string_view gguf_arch;  // general.architecture
    bool sliding_window_always = false;  // attention.sliding_window even when 0 (llama.cpp's phi3 requires it)
    bool softcapping = false;    // its graph reads the soft-capping keys (and slm's attention.scale)
};

constexpr GgufWriting kWritings[] = {
    {"mistral", "llama"},  // llama.cpp runs Mistral as llama (same tensors, same rope)
    {"phi3", "phi3", true},
    {"gemma2", "gemma2", false, true},
    {"gemma3", "gemma3", false, true},
};

GgufWriting writing_of(const model::Architecture& arch) {
    for (const GgufWriting& w : kWritings)
        if (w.arch == arch.name) return w;
    return {arch.name, arch.name};
}

struct MappedName {
    WeightRole role;
    int layer;
    std::string gguf;
};

// HF tensor name -> role, layer and GGUF name, for every weight a model of this shape can have.
std::map<std::string, MappedName> name_map(const model::Architecture& arch, const ModelConfig& c) {
    std::map<std::string, MappedName> m;
    auto add = [&](WeightRole role, int layer) {
        const std::string hf = model::tensor_name(arch, role, TensorNaming::hf, layer);
        const std::string gguf = model::tensor_name(arch, role, TensorNaming::gguf, layer);
        if (!hf.empty() && !gguf.empty()) m[hf] = {role, layer, gguf};
    };
    for (WeightRole r : {WeightRole::token_embedding, WeightRole::output_norm, WeightRole::output,
                         WeightRole::output_norm_bias, WeightRole::output_bias})
        add(r, 0);
    for (int l = 0; l < c.num_layers; ++l) {
        for (int r = int(WeightRole::attn_norm); r <= int(WeightRole::ffn_down); ++r) add(WeightRole(r), l);
        for (WeightRole r : {WeightRole::attn_qkv, WeightRole::ffn_gate_up, WeightRole::attn_post_norm,
                             WeightRole::ffn_post_norm, WeightRole::attn_q_norm, WeightRole::attn_k_norm,
                             WeightRole::attn_norm_bias, WeightRole::ffn_up_bias, WeightRole::ffn_down_bias})
            add(r, l);
    }
    return m;
}

bool is_norm(WeightRole r) {
    return r == WeightRole::attn_norm || r == WeightRole::ffn_norm || r == WeightRole::output_norm ||
           r == WeightRole::attn_post_norm || r == WeightRole::ffn_post_norm || r == WeightRole::attn_q_norm ||
           r == WeightRole::attn_k_norm;
}

// The activation names that compute the same function.
std::string_view canonical_activation(std::string_view act) {
    if (act == "swish") return "silu";
    if (act == "gelu_new" || act == "gelu_fast") return "gelu_pytorch_tanh";
    return act;
}

// Refuses what llama.cpp's graph for the architecture would compute differently: GGUF has no key
// for the activation, the per-layer windows, or (outside Gemma 2 and 3) soft-capping.
void check_expressible(const model::Architecture& arch, const GgufWriting& writing, const ModelConfig& c,
                       const std::string& source) {
    if (canonical_activation(c.hidden_act) != canonical_activation(arch.gguf_activation))
        fail("{}: activation '{}' cannot be written to GGUF: llama.cpp's {} applies {}", source, c.hidden_act,
             writing.gguf_arch, arch.gguf_activation);
    const bool custom_scale = c.query_pre_attn_scalar > 0 && c.query_pre_attn_scalar != c.head_dim;
    if (!writing.softcapping && (c.attn_logit_softcapping > 0 || c.final_logit_softcapping > 0 || custom_scale))
        fail("{}: soft-capping and query_pre_attn_scalar cannot be written for {} (llama.cpp reads them for gemma2 and gemma3)",
             source, writing.gguf_arch);
    for (size_t l = 0; l < c.layer_types.size(); ++l) {
        // Which layers slide is the architecture's pattern in llama.cpp: every layer alike, or
        // (Gemma 2) the even ones, or (Gemma 3) five of every six.
        const std::string& expected = arch.global_every > 0
                                          ? ((l + 1) % size_t(arch.global_every) == 0 ? "full_attention" : "sliding_attention")
                                          : c.layer_types.front();
        if (c.layer_types[l] != expected)
            fail("{}: layer_types[{}] is '{}', but llama.cpp's {} gives that layer '{}'", source, l, c.layer_types[l],
                 writing.gguf_arch, expected);
    }
}

// llama.cpp's permutation of q/k rows: within each head, row (half j, index i) moves to 2*i + j,
// turning rotate-half pairs (i, i + d/2) into adjacent pairs (2i, 2i + 1). Rows are moved whole.
void permute_rows_for_rope(const uint8_t* src, uint8_t* dst, int64_t rows, size_t row_bytes, int n_heads) {
    const int64_t head_rows = rows / n_heads, half = head_rows / 2;
    for (int64_t h = 0; h < n_heads; ++h)
        for (int64_t j = 0; j < 2; ++j)
            for (int64_t i = 0; i < half; ++i)
                std::memcpy(dst + (h * head_rows + 2 * i + j) * row_bytes, src + (h * head_rows + j * half + i) * row_bytes,
                            row_bytes);
}

void add_architecture_keys(const model::Architecture& a, const ModelConfig& c, const GgufWriting& writing,
                           const std::string& model_name, DType type, GgufWriter& w) {
    const std::string arch(writing.gguf_arch);
    auto key = [&](std::string_view k) { return fmt::format("{}.{}", arch, k); };
    convert::add_model_header(w, arch, model_name,
                              {uint32_t(c.num_layers), uint32_t(c.max_position), uint32_t(c.hidden_size),
                               uint32_t(c.intermediate_size), uint32_t(c.num_heads)});
    w.set(key("attention.head_count_kv"), GgufWriter::u32(uint32_t(c.num_kv_heads)));
    w.set(key("rope.freq_base"), GgufWriter::f32(float(c.rope_theta)));
    // LayerNorm models (Phi-2) name their epsilon without "rms".
    w.set(key(a.norm_kind == model::NormKind::layer ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon"),
          GgufWriter::f32(float(c.rms_norm_eps)));
    w.set(key("attention.key_length"), GgufWriter::u32(uint32_t(c.head_dim)));
    w.set(key("attention.value_length"), GgufWriter::u32(uint32_t(c.head_dim)));
    w.set(key("rope.dimension_count"), GgufWriter::u32(uint32_t(rotary_dim(c))));  // Phi-2: part of each head
    // Gemma 3's sliding layers: llama.cpp fixes their base at 10000; another one is written for slm.
    if (a.local_rope_theta > 0 && c.rope_local_theta > 0 && c.rope_local_theta != a.local_rope_theta)
        w.set(key("rope.freq_base_swa"), GgufWriter::f32(float(c.rope_local_theta)));
    w.set(key("vocab_size"), GgufWriter::u32(uint32_t(c.vocab_size)));
    if (c.sliding_window > 0 || writing.sliding_window_always)
        w.set(key("attention.sliding_window"), GgufWriter::u32(uint32_t(c.sliding_window)));
    if (c.attn_logit_softcapping > 0)
        w.set(key("attn_logit_softcapping"), GgufWriter::f32(float(c.attn_logit_softcapping)));
    if (c.final_logit_softcapping > 0)
        w.set(key("final_logit_softcapping"), GgufWriter::f32(float(c.final_logit_softcapping)));
    if (c.query_pre_attn_scalar > 0 && c.query_pre_attn_scalar != c.head_dim)  // read back by slm only
        w.set(key("attention.scale"), GgufWriter::f32(float(1.0 / std::sqrt(c.query_pre_attn_scalar))));
    const RopeScaling& s = c.rope_scaling;
    if (s.type == "linear" || s.type == "yarn") {
        w.set(key("rope.scaling.type"), GgufWriter::str(s.type));
        w.set(key("rope.scaling.factor"), GgufWriter::f32(float(s.factor)));
        if (s.type == "yarn" && s.original_max_position > 0)
            w.set(key("rope.scaling.original_context_length"), GgufWriter::u32(uint32_t(s.original_max_position)));
    } else if (s.type == "longrope") {
        // As llama.cpp's Phi-3 converter: no type key, the factors as tensors (longrope_factors).
        w.set(key("rope.scaling.original_context_length"),
              GgufWriter::u32(uint32_t(s.original_max_position > 0 ? s.original_max_position : c.max_position)));
        w.set(key("rope.scaling.attn_factor"), GgufWriter::f32(rope_frequencies(c).mscale));
    } else if (s.type != "default" && s.type != "llama3") {
        fail("slm convert: rope scaling '{}' cannot be written to GGUF", s.type);
    }
    convert::add_file_type(w, type);
}

// llama3 rope scaling travels as rope_freqs.weight: the divisor of each pair's base frequency.
std::vector<float> llama3_rope_factors(const ModelConfig& c) {
    const RopeFrequencies scaled = rope_frequencies(c);
    std::vector<float> factors(scaled.inv_freq.size());
    for (size_t i = 0; i < factors.size(); ++i) {
        const double base = 1.0 / std::pow(c.rope_theta, double(2 * i) / c.head_dim);
        factors[i] = float(base / scaled.inv_freq[i]);
    }
    return factors;
}

// longrope's divisors as llama.cpp's rope_factors_long/short tensors (f32, [head_dim / 2]).
std::vector<std::pair<WeightRole, std::vector<float>>> longrope_factors(const ModelConfig& c) {
    if (c.rope_scaling.type != "longrope") return {};
    rope_frequencies(c);  // checks the factors' count
    const auto& s = c.rope_scaling;
    return {{WeightRole::rope_factors_long, std::vector<float>(s.long_factor.begin(), s.long_factor.end())},
            {WeightRole::rope_factors_short, std::vector<float>(s.short_factor.begin(), s.short_factor.end())}};
}

}  // namespace

void convert_hf_to_gguf(const std::string& hf_dir, const std::string& out_path, const ConvertOptions& options,
                        ThreadPool* pool) {
    ModelFiles files = ModelFiles::open(hf_dir);
    if (files.naming != TensorNaming::hf) fail("{}: slm convert takes a Hugging Face model directory", hf_dir);
    if (is_encoder_architecture(files.config.architecture))  // BERT: its own keys, names and vocabulary
        return convert::convert_encoder_to_gguf(files, out_path, options, pool);
    const ModelConfig& c = files.config;
    const model::Architecture& arch = model::find_architecture(c.architecture, hf_dir);
    const GgufWriting writing = writing_of(arch);
    check_expressible(arch, writing, c, hf_dir);
    const bool permute_qk = arch.gguf_rope != arch.hf_rope;
    // llama.cpp's converter stores Gemma's norm weights as 1 + w (computed here in f32).
    const bool norm_plus_one = arch.hf_norm == model::NormWeight::one_plus && arch.gguf_norm == model::NormWeight::scale;
    const bool tied = c.tie_word_embeddings || arch.tied_by_default;

    GgufWriter writer;
    add_architecture_keys(arch, c, writing, convert::converted_model_name(hf_dir, options), options.type, writer);
    convert::add_tokenizer_keys(files, c.vocab_size, writer);

    const auto names = name_map(arch, c);
    const std::vector<std::string> sources = files.tensors->tensor_names();
    std::vector<OwnedTensor> converted;  // keeps the converted data alive until the write
    converted.reserve(sources.size() + 3);
    auto add_f32_vector = [&](WeightRole role, const std::vector<float>& values) {
        OwnedTensor t = OwnedTensor::zeros(DType::f32, {int64_t(values.size())});
        std::copy(values.begin(), values.end(), t.tensor.as<float>());
        writer.add_tensor(model::tensor_name(arch, role, TensorNaming::gguf), DType::f32, t.tensor.shape, t.buffer.data());
        converted.push_back(std::move(t));
    };
    // llama.cpp's converter yields these extra tensors before the model's own.
    for (const auto& [role, factors] : longrope_factors(c)) add_f32_vector(role, factors);
    Progress progress("convert", sources.size(), "tensors");
    std::vector<uint8_t> permuted;
    ThreadPool serial(1);  // when the caller gives no pool
    for (const std::string& src_name : sources) {
        const auto it = names.find(src_name);
        if (it == names.end()) {
            if (src_name.find("rotary_emb.inv_freq") != std::string::npos) continue;  // recomputed by loaders
            fail("{}: tensor '{}' has no GGUF name for architecture {}", files.tensors->describe(), src_name, c.architecture);
        }
        const MappedName& mapped = it->second;
        if (mapped.role == WeightRole::output && tied) continue;  // token_embd serves (llama.cpp's Gemma has no output)
        const Tensor src = *files.tensors->find_tensor(src_name);
        const auto& src_traits = traits(src.dtype);
        if (!src_traits.to_float) fail("{}: tensor '{}' has type {} which cannot be converted", hf_dir, src_name, src_traits.name);
        const int64_t cols = src.row_length(), rows = src.rows();

        DType out_type = src.ndim() >= 2 ? options.type : DType::f32;
        if (cols % traits(out_type).block_size != 0) out_type = DType::f16;  // as llama.cpp falls back
        OwnedTensor out = OwnedTensor::zeros(out_type, src.shape);

        // Permuting whole rows commutes with converting them, so q/k rows are moved in the source type.
        const void* rows_in = src.data;
        if (permute_qk && (mapped.role == WeightRole::attn_q || mapped.role == WeightRole::attn_k)) {
            permuted.resize(src.nbytes());
            permute_rows_for_rope(static_cast<const uint8_t*>(src.data), permuted.data(), rows, src.row_bytes(),
                                  mapped.role == WeightRole::attn_q ? c.num_heads : c.num_kv_heads);
            rows_in = permuted.data();
        }
        quant::convert_rows(src.dtype, rows_in, out_type, out.buffer.data(), rows, cols, pool ? *pool : serial);
        if (norm_plus_one && is_norm(mapped.role))
            for (float* v = out.tensor.as<float>(), *end = v + out.tensor.numel(); v != end; ++v) *v += 1.0f;
        writer.add_tensor(mapped.gguf, out_type, src.shape, out.buffer.data());
        converted.push_back(std::move(out));
        progress.advance();
    }
    if (c.rope_scaling.type == "llama3") add_f32_vector(WeightRole::rope_freqs, llama3_rope_factors(c));
    progress.finish();
    writer.write(out_path);
}

}  // namespace slm
