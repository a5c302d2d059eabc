// slm convert: a Hugging Face Llama-family directory -> GGUF in llama.cpp's names, layouts and
// metadata keys. Tensors are written in the source's order (as llama.cpp's converter does), 1-D
// tensors as f32, matrices in the chosen type; llama-arch q/k rows are permuted for llama.cpp's
// interleaved rope.
#include <slm/convert.h>
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/model.h>
#include <slm/model_config.h>
#include <slm/progress.h>

#include "convert/gguf_vocab.h"
#include "quant/convert_rows.h"
#include "model/architecture.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <vector>

namespace slm {
namespace {

using model::WeightRole;

// llama.cpp's general.file_type (llama_ftype) for a whole-file storage type.
uint32_t file_type_of(DType t) {
    switch (t) {
        case DType::f32: return 0;
        case DType::f16: return 1;
        case DType::q8_0: return 7;
        case DType::bf16: return 32;
        default: fail("slm convert: --type {} is not supported (f32, f16, bf16 or q8_0)", name(t));
    }
}

struct MappedName {
    WeightRole role;
    int layer;
    std::string gguf;
};

// HF tensor name -> role, layer and GGUF name, for every weight a model of this shape can have.
std::map<std::string, MappedName> name_map(const ModelConfig& c) {
    std::map<std::string, MappedName> m;
    auto add = [&](WeightRole role, int layer) {
        const std::string hf = model::tensor_name(role, TensorNaming::hf, layer);
        if (!hf.empty()) m[hf] = {role, layer, model::tensor_name(role, TensorNaming::gguf, layer)};
    };
    for (WeightRole r : {WeightRole::token_embedding, WeightRole::output_norm, WeightRole::output}) add(r, 0);
    for (int l = 0; l < c.num_layers; ++l)
        for (int r = int(WeightRole::attn_norm); r <= int(WeightRole::ffn_down); ++r) add(WeightRole(r), l);
    return m;
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

void add_architecture_keys(const ModelConfig& c, const std::string& arch, const std::string& model_name,
                           DType type, GgufWriter& w) {
    auto key = [&](std::string_view k) { return fmt::format("{}.{}", arch, k); };
    w.set("general.architecture", GgufWriter::str(arch));
    w.set("general.type", GgufWriter::str("model"));
    w.set("general.name", GgufWriter::str(model_name));
    w.set(key("block_count"), GgufWriter::u32(uint32_t(c.num_layers)));
    w.set(key("context_length"), GgufWriter::u32(uint32_t(c.max_position)));
    w.set(key("embedding_length"), GgufWriter::u32(uint32_t(c.hidden_size)));
    w.set(key("feed_forward_length"), GgufWriter::u32(uint32_t(c.intermediate_size)));
    w.set(key("attention.head_count"), GgufWriter::u32(uint32_t(c.num_heads)));
    w.set(key("attention.head_count_kv"), GgufWriter::u32(uint32_t(c.num_kv_heads)));
    w.set(key("rope.freq_base"), GgufWriter::f32(float(c.rope_theta)));
    w.set(key("attention.layer_norm_rms_epsilon"), GgufWriter::f32(float(c.rms_norm_eps)));
    w.set(key("attention.key_length"), GgufWriter::u32(uint32_t(c.head_dim)));
    w.set(key("attention.value_length"), GgufWriter::u32(uint32_t(c.head_dim)));
    w.set(key("rope.dimension_count"), GgufWriter::u32(uint32_t(c.head_dim)));
    w.set(key("vocab_size"), GgufWriter::u32(uint32_t(c.vocab_size)));
    if (c.sliding_window > 0) w.set(key("attention.sliding_window"), GgufWriter::u32(uint32_t(c.sliding_window)));
    const RopeScaling& s = c.rope_scaling;
    if (s.type == "linear" || s.type == "yarn") {
        w.set(key("rope.scaling.type"), GgufWriter::str(s.type));
        w.set(key("rope.scaling.factor"), GgufWriter::f32(float(s.factor)));
        if (s.type == "yarn" && s.original_max_position > 0)
            w.set(key("rope.scaling.original_context_length"), GgufWriter::u32(uint32_t(s.original_max_position)));
    } else if (s.type != "default" && s.type != "llama3") {
        fail("slm convert: rope scaling '{}' cannot be written to GGUF", s.type);
    }
    w.set("general.file_type", GgufWriter::u32(file_type_of(type)));
    w.set("general.quantization_version", GgufWriter::u32(2));
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

}  // namespace

void convert_hf_to_gguf(const std::string& hf_dir, const std::string& out_path, const ConvertOptions& options,
                        ThreadPool* pool) {
    ModelFiles files = ModelFiles::open(hf_dir);
    if (files.naming != TensorNaming::hf) fail("{}: slm convert takes a Hugging Face model directory", hf_dir);
    const ModelConfig& c = files.config;
    const model::Architecture& arch = model::find_architecture(c.architecture, hf_dir);
    // Gemma's tensors even share Llama's names: without this check it would convert, wrongly.
    if (!model::is_llama_forward(arch, c))
        fail("{}: slm convert writes the Llama family (llama, mistral, qwen2) for now; a {} model is not convertible "
             "yet",
             hf_dir, c.architecture);
    // llama.cpp runs Mistral as llama (same tensors, same rope).
    const std::string gguf_arch = c.architecture == "mistral" ? "llama" : std::string(arch.name);
    const bool permute_qk = arch.gguf_rope != arch.hf_rope;

    std::string model_name = options.name;
    if (model_name.empty()) model_name = std::filesystem::path(hf_dir).lexically_normal().filename().string();
    if (model_name.empty()) model_name = std::filesystem::path(hf_dir).parent_path().filename().string();

    GgufWriter writer;
    add_architecture_keys(c, gguf_arch, model_name, options.type, writer);
    convert::add_tokenizer_keys(files, c.vocab_size, writer);

    const auto names = name_map(c);
    const std::vector<std::string> sources = files.tensors->tensor_names();
    std::vector<OwnedTensor> converted;  // keeps the converted data alive until the write
    converted.reserve(sources.size() + 1);
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
        if (mapped.role == WeightRole::output && c.tie_word_embeddings) continue;  // tied: token_embd serves
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
        writer.add_tensor(mapped.gguf, out_type, src.shape, out.buffer.data());
        converted.push_back(std::move(out));
        progress.advance();
    }
    if (c.rope_scaling.type == "llama3") {
        const std::vector<float> factors = llama3_rope_factors(c);
        OwnedTensor t = OwnedTensor::zeros(DType::f32, {int64_t(factors.size())});
        std::copy(factors.begin(), factors.end(), t.tensor.as<float>());
        writer.add_tensor(model::tensor_name(WeightRole::rope_freqs, TensorNaming::gguf), DType::f32, t.tensor.shape,
                          t.buffer.data());
        converted.push_back(std::move(t));
    }
    progress.finish();
    writer.write(out_path);
}

}  // namespace slm
