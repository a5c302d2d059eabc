// Binding of a BERT-family encoder's tensors by role in both namings: one table row per role gives
// the Hugging Face name (under encoder.layer.N. for a layer's) and llama.cpp's GGUF name.
#include "model/encoder_weights.h"

#include "model/cpu_layouts.h"

#include <slm/error.h>

#include <fmt/format.h>

#include <optional>
#include <string>

namespace slm {
namespace {

enum class Role {
    token_embedding, position_embedding, token_types, embed_norm,
    q, k, v, attn_out, attn_norm, ffn_up, ffn_down, out_norm,
};

struct RoleNames {
    Role role;
    const char* hf;    // after the model's prefix; a layer's after "encoder.layer.N."
    const char* gguf;  // a layer's after "blk.N."
};

// Norms and linears are named without their ".weight" / ".bias" suffix.
constexpr RoleNames kNames[] = {
    {Role::token_embedding, "embeddings.word_embeddings", "token_embd"},
    {Role::position_embedding, "embeddings.position_embeddings", "position_embd"},
    {Role::token_types, "embeddings.token_type_embeddings", "token_types"},
    {Role::embed_norm, "embeddings.LayerNorm", "token_embd_norm"},
    {Role::q, "attention.self.query", "attn_q"},
    {Role::k, "attention.self.key", "attn_k"},
    {Role::v, "attention.self.value", "attn_v"},
    {Role::attn_out, "attention.output.dense", "attn_output"},
    {Role::attn_norm, "attention.output.LayerNorm", "attn_output_norm"},
    {Role::ffn_up, "intermediate.dense", "ffn_up"},
    {Role::ffn_down, "output.dense", "ffn_down"},
    {Role::out_norm, "output.LayerNorm", "layer_output_norm"},
};
static_assert(kNames[size_t(Role::out_norm)].role == Role::out_norm, "kNames is indexed by Role: keep its order");

class EncoderBinder {
public:
    explicit EncoderBinder(const ModelFiles& files) : files_(files) {
        if (files.naming == TensorNaming::hf) {
            // BertModel saves bare names; BertFor*/RobertaFor* heads put the encoder under a prefix.
            for (const char* prefix : {"", "bert.", "roberta.", "model."})
                if (files.tensors->find_tensor(std::string(prefix) + "embeddings.word_embeddings.weight")) {
                    prefix_ = prefix;
                    return;
                }
            fail("{}: no tensor 'embeddings.word_embeddings.weight' (with or without a bert. or roberta. prefix): "
                 "not a BERT-family encoder", files.tensors->describe());
        }
    }

    // The tensor's name without suffix; layer -1 for the embeddings' roles.
    std::string base(Role role, int layer) const {
        const RoleNames& n = kNames[size_t(role)];
        if (files_.naming == TensorNaming::gguf)
            return layer < 0 ? n.gguf : fmt::format("blk.{}.{}", layer, n.gguf);
        return layer < 0 ? prefix_ + n.hf : fmt::format("{}encoder.layer.{}.{}", prefix_, layer, n.hf);
    }

    std::optional<Tensor> find(const std::string& name) const { return files_.tensors->find_tensor(name); }

    Tensor matrix(Role role, int layer, int64_t rows, int64_t cols) const {
        const std::string name = base(role, layer) + ".weight";
        const std::optional<Tensor> t = find(name);
        if (!t) fail("{}: tensor '{}' is missing", files_.tensors->describe(), name);
        check_shape(*t, name, {rows, cols});
        if (!traits(t->dtype).to_float)
            fail("{}: tensor '{}' has dtype {}, which slm cannot compute with", files_.tensors->describe(), name,
                 slm::name(t->dtype));
        return *t;
    }

    // A LayerNorm's weight or bias, or a linear's bias, as f32 [n]. Old BERT checkpoints name a
    // LayerNorm's weight and bias gamma and beta.
    std::vector<float> vector(Role role, int layer, const char* suffix, int64_t n) const {
        const std::string name = base(role, layer) + "." + suffix;
        std::optional<Tensor> t = find(name);
        if (!t && files_.naming == TensorNaming::hf)
            t = find(base(role, layer) + (std::string(suffix) == "weight" ? ".gamma" : ".beta"));
        if (!t) fail("{}: tensor '{}' is missing", files_.tensors->describe(), name);
        return to_f32(*t, name, {n});
    }

    std::vector<float> to_f32(const Tensor& t, const std::string& name, const std::vector<int64_t>& shape) const {
        check_shape(t, name, shape);
        const ToFloatFn to_float = traits(t.dtype).to_float;
        if (!to_float)
            fail("{}: tensor '{}' has dtype {}, which is not a float type", files_.tensors->describe(), name,
                 slm::name(t.dtype));
        std::vector<float> out(size_t(t.numel()));
        to_float(t.data, out.data(), t.numel());
        return out;
    }

private:
    void check_shape(const Tensor& t, const std::string& name, const std::vector<int64_t>& expected) const {
        if (t.shape != expected)
            fail("{}: tensor '{}' has shape {}, expected {}", files_.tensors->describe(), name, shape_string(t.shape),
                 shape_string(expected));
    }
    const ModelFiles& files_;
    std::string prefix_;
};

bool starts_with(const std::string& s, std::string_view prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

std::optional<std::string> encoder_gguf_name(const std::string& hf_name) {
    std::string name = hf_name;
    for (std::string_view prefix : {"bert.", "roberta.", "model."})
        if (starts_with(name, prefix)) name = name.substr(prefix.size());
    if (name == "embeddings.position_ids" || starts_with(name, "pooler.") || starts_with(name, "cls.") ||
        starts_with(name, "lm_head."))
        return std::string();
    const size_t dot = name.rfind('.');
    if (dot == std::string::npos) return std::nullopt;
    std::string suffix = name.substr(dot + 1), base = name.substr(0, dot);
    if (suffix == "gamma") suffix = "weight";
    if (suffix == "beta") suffix = "bias";
    if (suffix != "weight" && suffix != "bias") return std::nullopt;
    std::string layer_part;
    int layer = -1;
    if (starts_with(base, "encoder.layer.")) {
        const size_t end = base.find('.', 14);
        if (end == std::string::npos) return std::nullopt;
        const std::string digits = base.substr(14, end - 14);
        if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos)
            return std::nullopt;
        layer = std::stoi(digits);
        base = base.substr(end + 1);
    }
    for (const RoleNames& n : kNames) {
        const bool layer_role = n.role >= Role::q;
        if (layer_role == (layer >= 0) && base == n.hf)
            return layer >= 0 ? fmt::format("blk.{}.{}.{}", layer, n.gguf, suffix) : fmt::format("{}.{}", n.gguf, suffix);
    }
    return std::nullopt;
}

EncoderWeights::EncoderWeights(const ModelFiles& files) {
    const ModelConfig& c = files.config;
    const int64_t D = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
    const EncoderBinder b(files);
    token_embedding = b.matrix(Role::token_embedding, -1, V, D);
    const std::string position_name = b.base(Role::position_embedding, -1) + ".weight";
    const std::optional<Tensor> position = b.find(position_name);
    if (!position) fail("{}: tensor '{}' is missing", files.tensors->describe(), position_name);
    position_embedding = b.matrix(Role::position_embedding, -1, position->shape.empty() ? 0 : position->shape[0], D);
    const std::string types_name = b.base(Role::token_types, -1) + ".weight";
    if (const std::optional<Tensor> types = b.find(types_name)) {
        if (types->ndim() != 2 || types->shape[0] < 1 || types->shape[1] != D)
            fail("{}: tensor '{}' has shape {}, expected [types, {}]", files.tensors->describe(), types_name,
                 shape_string(types->shape), D);
        token_type = b.to_f32(*types, types_name, types->shape);
        token_type.resize(size_t(D));
    } else {
        token_type.assign(size_t(D), 0.0f);
    }
    embed_norm = b.vector(Role::embed_norm, -1, "weight", D);
    embed_norm_bias = b.vector(Role::embed_norm, -1, "bias", D);
    layers.resize(size_t(c.num_layers));
    for (int l = 0; l < c.num_layers; ++l) {
        EncoderLayerWeights& w = layers[size_t(l)];
        w.wq = b.matrix(Role::q, l, D, D);
        w.wk = b.matrix(Role::k, l, D, D);
        w.wv = b.matrix(Role::v, l, D, D);
        w.wo = b.matrix(Role::attn_out, l, D, D);
        w.bq = b.vector(Role::q, l, "bias", D);
        w.bk = b.vector(Role::k, l, "bias", D);
        w.bv = b.vector(Role::v, l, "bias", D);
        w.bo = b.vector(Role::attn_out, l, "bias", D);
        w.attn_norm = b.vector(Role::attn_norm, l, "weight", D);
        w.attn_norm_bias = b.vector(Role::attn_norm, l, "bias", D);
        w.w_up = b.matrix(Role::ffn_up, l, F, D);
        w.w_down = b.matrix(Role::ffn_down, l, D, F);
        w.b_up = b.vector(Role::ffn_up, l, "bias", F);
        w.b_down = b.vector(Role::ffn_down, l, "bias", D);
        w.out_norm = b.vector(Role::out_norm, l, "weight", D);
        w.out_norm_bias = b.vector(Role::out_norm, l, "bias", D);
    }
}

void EncoderWeights::use_cpu_layouts(const TensorSource& source) {
    std::vector<Tensor*> matrices;
    for (EncoderLayerWeights& w : layers)
        for (Tensor* t : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_up, &w.w_down}) matrices.push_back(t);
    interleave_matrices(matrices, source, copies_);
}

}  // namespace slm
