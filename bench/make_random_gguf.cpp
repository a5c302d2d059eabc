// make_random_gguf: writes a Llama-architecture GGUF with a real model's shapes (TinyLlama-1.1B
// by default) and random weights, in the tensor-type mix llama-quantize gives for q4_0, q8_0 or
// q4_k_m, with the tokenizer copied from another GGUF, so that slm and llama.cpp can be timed on
// the same realistically sized file. Quantized blocks are random bytes with scales set to small
// values (fast to make; speed does not depend on the values).
//
//   make_random_gguf --vocab-from tinyllama-spm-13m-q8_0.gguf --type q4_k_m --out tl-1.1b-q4_k_m.gguf
#include <slm/dtype.h>
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/half.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

struct Shape {
    int64_t layers = 22, dim = 2048, ffn = 5632, heads = 32, kv_heads = 4, context = 2048;
};

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

struct TensorPlan {
    std::string name;
    slm::DType dtype;
    std::vector<int64_t> shape;
};

std::vector<TensorPlan> plan_tensors(const Shape& s, int64_t vocab, const std::string& type) {
    using slm::DType;
    const bool k_mix = type == "q4_k_m";
    const DType base = type == "q4_0" ? DType::q4_0 : type == "q8_0" ? DType::q8_0 : DType::q4_k;
    const DType output = type == "q8_0" ? DType::q8_0 : DType::q6_k;  // llama-quantize's rule
    const int64_t head_dim = s.dim / s.heads, kv_dim = head_dim * s.kv_heads;
    std::vector<TensorPlan> plan = {{"token_embd.weight", base, {vocab, s.dim}}};
    for (int64_t i = 0; i < s.layers; ++i) {
        const DType more = k_mix && uses_more_bits(i, s.layers) ? DType::q6_k : base;
        const std::string p = fmt::format("blk.{}.", i);
        plan.push_back({p + "attn_norm.weight", DType::f32, {s.dim}});
        plan.push_back({p + "attn_q.weight", base, {s.dim, s.dim}});
        plan.push_back({p + "attn_k.weight", base, {kv_dim, s.dim}});
        plan.push_back({p + "attn_v.weight", more, {kv_dim, s.dim}});
        plan.push_back({p + "attn_output.weight", base, {s.dim, s.dim}});
        plan.push_back({p + "ffn_norm.weight", DType::f32, {s.dim}});
        plan.push_back({p + "ffn_gate.weight", base, {s.ffn, s.dim}});
        plan.push_back({p + "ffn_up.weight", base, {s.ffn, s.dim}});
        plan.push_back({p + "ffn_down.weight", more, {s.dim, s.ffn}});
    }
    plan.push_back({"output_norm.weight", DType::f32, {s.dim}});
    plan.push_back({"output.weight", output, {vocab, s.dim}});
    return plan;
}

void make_model(const std::string& vocab_from, const std::string& type, const std::string& out, const Shape& s) {
    if (type != "q4_0" && type != "q8_0" && type != "q4_k_m") slm::fail("--type {}: expected q4_0, q8_0 or q4_k_m", type);
    const auto source = slm::GgufFile::open(vocab_from);
    const int64_t vocab = int64_t(source->get_string_array("tokenizer.ggml.tokens").size());
    if (vocab == 0) slm::fail("{}: no tokenizer.ggml.tokens to copy", vocab_from);

    slm::GgufWriter writer;
    using W = slm::GgufWriter;
    const uint32_t file_type = type == "q4_0" ? 2 : type == "q8_0" ? 7 : 15;  // llama_ftype values
    writer.set("general.architecture", W::str("llama"));
    writer.set("general.name", W::str(fmt::format("random-{}L-{}d-{}", s.layers, s.dim, type)));
    writer.set("general.file_type", W::u32(file_type));
    writer.set("llama.vocab_size", W::u32(uint32_t(vocab)));
    writer.set("llama.context_length", W::u32(uint32_t(s.context)));
    writer.set("llama.embedding_length", W::u32(uint32_t(s.dim)));
    writer.set("llama.block_count", W::u32(uint32_t(s.layers)));
    writer.set("llama.feed_forward_length", W::u32(uint32_t(s.ffn)));
    writer.set("llama.rope.dimension_count", W::u32(uint32_t(s.dim / s.heads)));
    writer.set("llama.attention.head_count", W::u32(uint32_t(s.heads)));
    writer.set("llama.attention.head_count_kv", W::u32(uint32_t(s.kv_heads)));
    writer.set("llama.attention.layer_norm_rms_epsilon", W::f32(1e-5f));
    writer.set("llama.rope.freq_base", W::f32(10000.0f));
    for (const auto& kv : source->metadata())
        if (kv.key.rfind("tokenizer.", 0) == 0) writer.set(kv.key, kv.value);

    std::mt19937_64 rng(42);
    std::vector<std::vector<uint8_t>> storage;
    for (const TensorPlan& t : plan_tensors(s, vocab, type)) {
        const int64_t rows = t.shape.size() == 1 ? 1 : t.shape[0];
        const size_t bytes = slm::row_bytes(t.dtype, t.shape.back()) * size_t(rows);
        std::vector<uint8_t>& data = storage.emplace_back(bytes);
        if (t.dtype == slm::DType::f32) {
            const float one = 1.0f;
            for (size_t i = 0; i < bytes; i += 4) std::memcpy(data.data() + i, &one, 4);
        } else {
            fill_random(t.dtype, data.data(), bytes, rng);
        }
        writer.add_tensor(t.name, t.dtype, t.shape, data.data());
    }
    writer.write(out);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Write a random-weight Llama GGUF with a real model's shapes (default TinyLlama-1.1B)"};
    std::string vocab_from, type, out;
    Shape s;
    app.add_option("--vocab-from", vocab_from, "GGUF whose tokenizer.* metadata is copied")->required();
    app.add_option("--type", type, "q4_0, q8_0 or q4_k_m (llama-quantize's tensor-type mix)")->required();
    app.add_option("--out", out, "output GGUF path")->required();
    app.add_option("--layers", s.layers, "transformer blocks")->capture_default_str();
    app.add_option("--dim", s.dim, "embedding width")->capture_default_str();
    app.add_option("--ffn", s.ffn, "feed-forward width")->capture_default_str();
    app.add_option("--heads", s.heads, "attention heads")->capture_default_str();
    app.add_option("--kv-heads", s.kv_heads, "key/value heads")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        make_model(vocab_from, type, out, s);
    } catch (const slm::Error& e) {
        fmt::print(stderr, "make_random_gguf: {}\n", e.what());
        return 1;
    }
    return 0;
}
