// make_random_gguf: writes a GGUF with a real model's shapes (a row of kShapes: TinyLlama-1.1B,
// Llama-2-7B, Phi-2 2.7B, Gemma-2 2B) and random weights, in the tensor-type mix llama-quantize
// gives for q4_0, q8_0 or q4_k_m, with llama.cpp's tensor names and metadata keys for the
// architecture and the tokenizer copied from another GGUF (padded with [PADn] tokens up to the
// model's vocabulary, as llama.cpp's converter pads), so that slm and llama.cpp can be timed on
// the same realistically sized file. Quantized blocks are random bytes with scales set to small
// values (fast to make; speed does not depend on the values); norms are 1, biases 0.
//
//   make_random_gguf --vocab-from tinyllama-spm-13m-q8_0.gguf --type q4_k_m --out tl-1.1b-q4_k_m.gguf
//   make_random_gguf --shape phi-2 --vocab-from tinyqwen2-bpe-11m-q8_0.gguf --type q4_0 --out phi2-q4_0.gguf
#include <slm/dtype.h>
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/half.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

// How an architecture's blocks differ, in the tensors llama.cpp b4748's loader asks for
// (src/llama-model.cpp, load_tensors).
struct BlockLayout {
    const char* arch;  // general.architecture, also the prefix of the hyperparameter keys
    bool layer_norm;   // LayerNorm with weight and bias (Phi-2); else RMSNorm with a weight
    bool gated_mlp;    // ffn_gate beside ffn_up; Phi-2's MLP is fc1 -> GELU -> fc2
    bool biases;       // bias vectors on q, k, v, attn_output, ffn_up, ffn_down and output (Phi-2)
    bool ffn_norm;     // a norm before the MLP; Phi-2's attention and MLP read one attn_norm (parallel block)
    bool post_norms;   // Gemma 2's post_attention_norm and post_ffw_norm
    bool tied_output;  // no output.weight: the head reads token_embd (Gemma)
};

constexpr BlockLayout kLlama{"llama", false, true, false, true, false, false};
constexpr BlockLayout kPhi2{"phi2", true, false, true, false, false, false};
constexpr BlockLayout kGemma2{"gemma2", false, true, false, true, true, true};

// A real model's shapes and the hyperparameters its GGUF carries (values from each model's
// config.json; 0 where the key is not written).
struct Shape {
    const char* name;
    const BlockLayout* layout;
    int64_t layers, dim, ffn, heads, kv_heads, head_dim, vocab, context, rope_dim;
    float norm_eps;
    float attn_softcap = 0, final_softcap = 0;
    int64_t sliding_window = 0;
};

// Phi-2: partial_rotary_factor 0.4 of head_dim 80 -> 32 rotated dimensions. Gemma-2 2B:
// query_pre_attn_scalar 256 = head_dim, which is what llama.cpp b4748 scales queries by for the
// 2B (no key for it), so none is written.
const std::array kShapes = {
    Shape{"tinyllama-1.1b", &kLlama, 22, 2048, 5632, 32, 4, 64, 32000, 2048, 64, 1e-5f},
    Shape{"llama-2-7b", &kLlama, 32, 4096, 11008, 32, 32, 128, 32000, 4096, 128, 1e-5f},
    Shape{"phi-2", &kPhi2, 32, 2560, 10240, 32, 32, 80, 51200, 2048, 32, 1e-5f},
    Shape{"gemma-2-2b", &kGemma2, 26, 2304, 9216, 8, 4, 256, 256000, 8192, 256, 1e-6f, 50.0f, 30.0f, 4096},
};

const Shape& find_shape(const std::string& name) {
    std::string known;
    for (const Shape& s : kShapes) {
        if (name == s.name) return s;
        known += fmt::format("{}{}", known.empty() ? "" : ", ", s.name);
    }
    slm::fail("--shape {}: expected one of {}", name, known);
}

// Which layers llama.cpp's q4_k_m gives more bits (q6_k) in attn_v and ffn_down.
bool uses_more_bits(int64_t layer, int64_t layers) {
    return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

// Fills `bytes` of blocks of `dtype` with random bits, then sets each block's scales so that
// weights come out with a standard deviation of roughly 0.02.
void fill_random(slm::DType dtype, uint8_t* data, size_t bytes, std::mt19937_64& rng) {
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        const uint64_t r = rng();
        std::memcpy(data + i, &r, 8);
    }
    const auto& tr = slm::traits(dtype);
    auto put_half = [&](size_t at, float v) {
        const uint16_t h = slm::f32_to_f16(v);
        std::memcpy(data + at, &h, 2);
    };
    for (size_t b = 0; b + size_t(tr.block_bytes) <= bytes; b += size_t(tr.block_bytes)) {
        switch (dtype) {
        case slm::DType::q4_0: put_half(b, 0.005f); break;
        case slm::DType::q8_0: put_half(b, 0.0003f); break;
        case slm::DType::q4_k: put_half(b, 0.00005f), put_half(b + 2, 0.00005f); break;
        case slm::DType::q6_k: put_half(b + 208, 0.00001f); break;
        default: break;
        }
    }
}

// A 1-D f32 tensor is a norm weight (filled with 1) or a bias (filled with 0).
struct TensorPlan {
    std::string name;
    slm::DType dtype;
    std::vector<int64_t> shape;
};

std::vector<TensorPlan> plan_tensors(const Shape& s, const std::string& type) {
    using slm::DType;
    const BlockLayout& a = *s.layout;
    const bool k_mix = type == "q4_k_m";
    const DType base = type == "q4_0" ? DType::q4_0 : type == "q8_0" ? DType::q8_0 : DType::q4_k;
    // llama-quantize's rule for the output matrix, and for token_embd where it doubles as the head.
    const DType output = type == "q8_0" ? DType::q8_0 : DType::q6_k;
    const int64_t q_dim = s.head_dim * s.heads, kv_dim = s.head_dim * s.kv_heads;
    std::vector<TensorPlan> plan = {{"token_embd.weight", a.tied_output ? output : base, {s.vocab, s.dim}}};
    auto norm = [&](const std::string& name) {
        plan.push_back({name + ".weight", DType::f32, {s.dim}});
        if (a.layer_norm) plan.push_back({name + ".bias", DType::f32, {s.dim}});
    };
    auto matrix = [&](const std::string& name, DType dtype, int64_t rows, int64_t cols) {
        plan.push_back({name + ".weight", dtype, {rows, cols}});
        if (a.biases) plan.push_back({name + ".bias", DType::f32, {rows}});
    };
    for (int64_t i = 0; i < s.layers; ++i) {
        const DType more = k_mix && uses_more_bits(i, s.layers) ? DType::q6_k : base;
        const std::string p = fmt::format("blk.{}.", i);
        norm(p + "attn_norm");
        matrix(p + "attn_q", base, q_dim, s.dim);
        matrix(p + "attn_k", base, kv_dim, s.dim);
        matrix(p + "attn_v", more, kv_dim, s.dim);
        matrix(p + "attn_output", base, s.dim, q_dim);
        if (a.post_norms) norm(p + "post_attention_norm");
        if (a.ffn_norm) norm(p + "ffn_norm");
        if (a.gated_mlp) matrix(p + "ffn_gate", base, s.ffn, s.dim);
        matrix(p + "ffn_up", base, s.ffn, s.dim);
        matrix(p + "ffn_down", more, s.dim, s.ffn);
        if (a.post_norms) norm(p + "post_ffw_norm");
    }
    norm("output_norm");
    if (!a.tied_output) matrix("output", output, s.vocab, s.dim);
    return plan;
}

// Copies the tokenizer.* keys of `source`, padding the token list (and its scores and types)
// with unused [PADn] tokens up to `vocab`, as llama.cpp's converter pads a model whose embedding
// has more rows than its tokenizer has tokens (Phi-2's 51200 for 50295).
void copy_tokenizer(const slm::GgufFile& source, int64_t vocab, slm::GgufWriter& writer) {
    using W = slm::GgufWriter;
    std::vector<std::string> tokens = source.get_string_array("tokenizer.ggml.tokens");
    if (tokens.empty()) slm::fail("{}: no tokenizer.ggml.tokens to copy", source.path());
    if (int64_t(tokens.size()) > vocab)
        slm::fail("{}: {} tokens, more than the shape's vocabulary of {}", source.path(), tokens.size(), vocab);
    for (const auto& kv : source.metadata())
        if (kv.key.rfind("tokenizer.", 0) == 0) writer.set(kv.key, kv.value);
    if (int64_t(tokens.size()) == vocab) return;

    const std::vector<double> scores = source.get_float_array("tokenizer.ggml.scores");
    const std::vector<int64_t> types = source.get_int_array("tokenizer.ggml.token_type");
    std::vector<float> padded_scores(scores.begin(), scores.end());
    std::vector<int32_t> padded_types(types.begin(), types.end());
    constexpr int32_t kUnused = 5;  // GGUF token type: unused
    for (int64_t id = int64_t(tokens.size()); id < vocab; ++id) {
        tokens.push_back(fmt::format("[PAD{}]", id));
        if (!scores.empty()) padded_scores.push_back(-1000.0f);
        if (!types.empty()) padded_types.push_back(kUnused);
    }
    writer.set("tokenizer.ggml.tokens", W::string_array(tokens));
    if (!scores.empty()) writer.set("tokenizer.ggml.scores", W::f32_array(padded_scores));
    if (!types.empty()) writer.set("tokenizer.ggml.token_type", W::i32_array(padded_types));
}

// The `<arch>.*` hyperparameter keys llama.cpp b4748 reads for the architecture
// (src/llama-arch.cpp LLM_KV_NAMES; src/llama-model.cpp load_hparams).
void write_hyperparameters(const Shape& s, slm::GgufWriter& writer) {
    using W = slm::GgufWriter;
    const std::string arch = s.layout->arch;
    auto key = [&](const char* name) { return arch + "." + name; };
    writer.set(key("vocab_size"), W::u32(uint32_t(s.vocab)));
    writer.set(key("context_length"), W::u32(uint32_t(s.context)));
    writer.set(key("embedding_length"), W::u32(uint32_t(s.dim)));
    writer.set(key("block_count"), W::u32(uint32_t(s.layers)));
    writer.set(key("feed_forward_length"), W::u32(uint32_t(s.ffn)));
    writer.set(key("rope.dimension_count"), W::u32(uint32_t(s.rope_dim)));
    writer.set(key("attention.head_count"), W::u32(uint32_t(s.heads)));
    writer.set(key("attention.head_count_kv"), W::u32(uint32_t(s.kv_heads)));
    if (s.head_dim != s.dim / s.heads) {
        writer.set(key("attention.key_length"), W::u32(uint32_t(s.head_dim)));
        writer.set(key("attention.value_length"), W::u32(uint32_t(s.head_dim)));
    }
    writer.set(key(s.layout->layer_norm ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon"),
               W::f32(s.norm_eps));
    writer.set(key("rope.freq_base"), W::f32(10000.0f));
    if (s.attn_softcap > 0) writer.set(key("attn_logit_softcapping"), W::f32(s.attn_softcap));
    if (s.final_softcap > 0) writer.set(key("final_logit_softcapping"), W::f32(s.final_softcap));
    if (s.sliding_window > 0) writer.set(key("attention.sliding_window"), W::u32(uint32_t(s.sliding_window)));
}

void make_model(const std::string& vocab_from, const std::string& type, const std::string& out, const Shape& s) {
    if (type != "q4_0" && type != "q8_0" && type != "q4_k_m") slm::fail("--type {}: expected q4_0, q8_0 or q4_k_m", type);
    const auto source = slm::GgufFile::open(vocab_from);

    slm::GgufWriter writer;
    using W = slm::GgufWriter;
    const uint32_t file_type = type == "q4_0" ? 2 : type == "q8_0" ? 7 : 15;  // llama_ftype values
    writer.set("general.architecture", W::str(s.layout->arch));
    writer.set("general.name", W::str(fmt::format("random-{}L-{}d-{}", s.layers, s.dim, type)));
    writer.set("general.file_type", W::u32(file_type));
    write_hyperparameters(s, writer);
    copy_tokenizer(*source, s.vocab, writer);

    std::mt19937_64 rng(42);
    std::vector<std::vector<uint8_t>> storage;
    for (const TensorPlan& t : plan_tensors(s, type)) {
        const int64_t rows = t.shape.size() == 1 ? 1 : t.shape[0];
        const size_t bytes = slm::row_bytes(t.dtype, t.shape.back()) * size_t(rows);
        std::vector<uint8_t>& data = storage.emplace_back(bytes);
        if (t.dtype == slm::DType::f32) {
            const bool is_bias = t.name.size() > 5 && t.name.compare(t.name.size() - 5, 5, ".bias") == 0;
            const float value = is_bias ? 0.0f : 1.0f;
            for (size_t i = 0; i < bytes; i += 4) std::memcpy(data.data() + i, &value, 4);
        } else {
            fill_random(t.dtype, data.data(), bytes, rng);
        }
        writer.add_tensor(t.name, t.dtype, t.shape, data.data());
    }
    writer.write(out);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Write a random-weight GGUF with a real model's shapes (default TinyLlama-1.1B)"};
    std::string shape_name = "tinyllama-1.1b", vocab_from, type, out;
    int64_t layers = 0;
    std::string shapes;
    for (const Shape& s : kShapes) shapes += fmt::format("{}{}", shapes.empty() ? "" : ", ", s.name);
    app.add_option("--shape", shape_name, "model shape: " + shapes)->capture_default_str();
    app.add_option("--vocab-from", vocab_from, "GGUF whose tokenizer.* metadata is copied")->required();
    app.add_option("--type", type, "q4_0, q8_0 or q4_k_m (llama-quantize's tensor-type mix)")->required();
    app.add_option("--out", out, "output GGUF path")->required();
    app.add_option("--layers", layers, "transformer blocks, if not the shape's (a quicker file)");
    CLI11_PARSE(app, argc, argv);
    try {
        Shape s = find_shape(shape_name);
        if (layers > 0) s.layers = layers;
        make_model(vocab_from, type, out, s);
    } catch (const slm::Error& e) {
        fmt::print(stderr, "make_random_gguf: {}\n", e.what());
        return 1;
    }
    return 0;
}
