// Test support for the model fixtures: names, reference JSON, and the HF -> GGUF fixture writer.
#include "model/fixture_models.h"

#include "model/architecture.h"
#include "testing/testing.h"

#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>

namespace slm::test {

const std::vector<std::string>& tiny_fixture_names() {
    static const std::vector<std::string> names = {"llama",           "llama_gqa_tied",    "llama_odd_head_dim",
                                                   "llama3_rope",     "llama_linear_rope", "llama_yarn_rope",
                                                   "mistral_swa",     "qwen2_bias"};
    return names;
}

std::string fixture_model_dir(const std::string& name) { return fixtures_dir() + "/models/" + name; }

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text_file(path)); }

float max_abs_diff(std::span<const float> a, std::span<const float> b) {
    float m = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return a.size() == b.size() ? m : INFINITY;
}

float max_abs(std::span<const float> a) {
    float m = 0;
    for (float v : a) m = std::max(m, std::abs(v));
    return m;
}

namespace {

using model::WeightRole;

// convert_hf_to_gguf.py's permute: rows [n_head, 2, Dh/2] -> [n_head, Dh/2, 2], so that the
// (i, i + Dh/2) pairs of HF's rotate_half become adjacent (2i, 2i + 1) pairs.
std::vector<uint8_t> permute_rows(const Tensor& t, int n_head) {
    const size_t row = t.row_bytes();
    const int64_t rows = t.rows(), dh = rows / n_head, half = dh / 2;
    std::vector<uint8_t> out(row * size_t(rows));
    for (int64_t h = 0; h < n_head; ++h)
        for (int64_t i = 0; i < half; ++i)
            for (int64_t j = 0; j < 2; ++j)
                std::memcpy(out.data() + size_t(h * dh + i * 2 + j) * row, t.row(h * dh + j * half + i), row);
    return out;
}

std::vector<uint8_t> convert(const Tensor& t, DType to) {
    std::vector<float> f(size_t(t.numel()));
    traits(t.dtype).to_float(t.data, f.data(), t.numel());
    std::vector<uint8_t> out(size_t(t.rows()) * row_bytes(to, t.row_length()));
    for (int64_t r = 0; r < t.rows(); ++r)
        traits(to).from_float(f.data() + r * t.row_length(), out.data() + size_t(r) * row_bytes(to, t.row_length()),
                              t.row_length());
    return out;
}

}  // namespace

void write_fixture_gguf(const std::string& hf_dir, const std::string& gguf_path, std::optional<DType> matrix_dtype) {
    ModelFiles hf = ModelFiles::open(hf_dir);
    const ModelConfig& c = hf.config;
    const std::string arch = c.architecture == "mistral" ? "llama" : c.architecture;  // as llama.cpp writes Mistral
    const bool permute = arch == "llama";
    GgufWriter w;
    auto key = [&](const std::string& k) { return arch + "." + k; };
    w.set("general.architecture", GgufWriter::str(arch));
    w.set("general.name", GgufWriter::str("slm fixture"));
    w.set(key("context_length"), GgufWriter::u32(uint32_t(c.max_position)));
    w.set(key("embedding_length"), GgufWriter::u32(uint32_t(c.hidden_size)));
    w.set(key("block_count"), GgufWriter::u32(uint32_t(c.num_layers)));
    w.set(key("feed_forward_length"), GgufWriter::u32(uint32_t(c.intermediate_size)));
    w.set(key("attention.head_count"), GgufWriter::u32(uint32_t(c.num_heads)));
    w.set(key("attention.head_count_kv"), GgufWriter::u32(uint32_t(c.num_kv_heads)));
    w.set(key("attention.key_length"), GgufWriter::u32(uint32_t(c.head_dim)));
    w.set(key("attention.value_length"), GgufWriter::u32(uint32_t(c.head_dim)));
    w.set(key("attention.layer_norm_rms_epsilon"), GgufWriter::f32(float(c.rms_norm_eps)));
    w.set(key("rope.freq_base"), GgufWriter::f32(float(c.rope_theta)));
    w.set(key("rope.dimension_count"), GgufWriter::u32(uint32_t(c.head_dim)));
    w.set(key("vocab_size"), GgufWriter::u32(uint32_t(c.vocab_size)));
    if (c.sliding_window > 0) w.set(key("attention.sliding_window"), GgufWriter::u32(uint32_t(c.sliding_window)));
    if (c.rope_scaling.type == "linear") {
        w.set(key("rope.scaling.type"), GgufWriter::str("linear"));
        w.set(key("rope.scaling.factor"), GgufWriter::f32(float(c.rope_scaling.factor)));
    }
    w.set("general.file_type", GgufWriter::u32(0));

    std::deque<std::vector<uint8_t>> keep;  // data the writer points into until write()
    auto add = [&](WeightRole role, int layer, bool is_matrix, int permute_heads) {
        const std::string hf_name = model::tensor_name(role, TensorNaming::hf, layer);
        std::optional<Tensor> t = hf.tensors->find_tensor(hf_name);
        if (!t) return;
        Tensor src = *t;
        if (permute && permute_heads > 0) {
            Tensor rows = src;
            if (rows.ndim() == 1) rows.shape = {rows.shape[0], 1};  // a bias: one element per row
            keep.push_back(permute_rows(rows, permute_heads));
            src.data = keep.back().data();
        }
        const DType to = is_matrix ? matrix_dtype.value_or(src.dtype) : DType::f32;
        if (to != src.dtype) {
            keep.push_back(convert(src, to));
            src.data = keep.back().data();
            src.dtype = to;
        }
        w.add_tensor(model::tensor_name(role, TensorNaming::gguf, layer), src.dtype, src.shape, src.data);
    };
    add(WeightRole::token_embedding, 0, true, 0);
    add(WeightRole::output_norm, 0, false, 0);
    if (!c.tie_word_embeddings) add(WeightRole::output, 0, true, 0);
    if (c.rope_scaling.type == "llama3") {
        // llama.cpp's converter stores llama3 scaling as per-frequency divisors (rope_freqs.weight).
        ModelConfig plain = c;
        plain.rope_scaling = RopeScaling{};
        const std::vector<float> base = rope_frequencies(plain).inv_freq, scaled = rope_frequencies(c).inv_freq;
        std::vector<float> factors(base.size());
        for (size_t i = 0; i < base.size(); ++i) factors[i] = base[i] / scaled[i];
        keep.emplace_back(reinterpret_cast<uint8_t*>(factors.data()),
                          reinterpret_cast<uint8_t*>(factors.data() + factors.size()));
        w.add_tensor("rope_freqs.weight", DType::f32, {int64_t(factors.size())}, keep.back().data());
    }
    for (int l = 0; l < c.num_layers; ++l) {
        add(WeightRole::attn_norm, l, false, 0);
        add(WeightRole::attn_q, l, true, c.num_heads);
        add(WeightRole::attn_k, l, true, c.num_kv_heads);
        add(WeightRole::attn_v, l, true, 0);
        add(WeightRole::attn_o, l, true, 0);
        add(WeightRole::attn_q_bias, l, false, c.num_heads);
        add(WeightRole::attn_k_bias, l, false, c.num_kv_heads);
        add(WeightRole::attn_v_bias, l, false, 0);
        add(WeightRole::ffn_norm, l, false, 0);
        add(WeightRole::ffn_gate, l, true, 0);
        add(WeightRole::ffn_up, l, true, 0);
        add(WeightRole::ffn_down, l, true, 0);
    }
    w.write(gguf_path);
}

}  // namespace slm::test
