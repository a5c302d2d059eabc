// Binding of a model's tensors by role (names from the architecture table), with a shape check per
// tensor so that a wrong file fails at load with the tensor named, not mid-forward.
#include "model/model_weights.h"

#include "model/architecture.h"
#include "model/cpu_layouts.h"

#include <slm/error.h>
#include <slm/thread_pool.h>

#include "quant/nf4.h"

#include <algorithm>
#include <optional>

namespace slm {

namespace {

using model::WeightRole;

class Binder {
public:
    Binder(const ModelFiles& files, const model::Architecture& arch) : files_(files), arch_(arch) {}

    std::string name(WeightRole role, int layer) const { return model::tensor_name(arch_, role, files_.naming, layer); }

    std::optional<Tensor> find(WeightRole role, int layer) const {
        const std::string name = this->name(role, layer);
        if (name.empty()) return std::nullopt;
        return files_.tensors->find_tensor(name);
    }

    Tensor matrix(WeightRole role, int layer, int64_t rows, int64_t cols) const {
        const std::string name = this->name(role, layer);
        std::optional<Tensor> t = files_.tensors->find_tensor(name);
        if (!t) fail("{}: tensor '{}' is missing", files_.tensors->describe(), name);
        check_shape(*t, name, {rows, cols});
        if (!traits(t->dtype).to_float)
            fail("{}: tensor '{}' has dtype {}, which slm cannot compute with", files_.tensors->describe(), name,
                 slm::name(t->dtype));
        return *t;
    }

    // A 1-D tensor of length n as f32; empty when absent and optional.
    std::vector<float> vector(WeightRole role, int layer, int64_t n, bool required) const {
        const std::string name = this->name(role, layer);
        std::optional<Tensor> t = name.empty() ? std::nullopt : files_.tensors->find_tensor(name);
        if (!t) {
            if (required) fail("{}: tensor '{}' is missing", files_.tensors->describe(), name);
            return {};
        }
        check_shape(*t, name, {n});
        const ToFloatFn to_float = traits(t->dtype).to_float;
        if (!to_float)
            fail("{}: tensor '{}' has dtype {}, which is not a float type", files_.tensors->describe(), name,
                 slm::name(t->dtype));
        std::vector<float> out(static_cast<size_t>(n));
        to_float(t->data, out.data(), n);
        return out;
    }

private:
    void check_shape(const Tensor& t, const std::string& name, const std::vector<int64_t>& expected) const {
        if (t.shape != expected)
            fail("{}: tensor '{}' has shape {}, expected {}", files_.tensors->describe(), name, shape_string(t.shape),
                 shape_string(expected));
    }
    const ModelFiles& files_;
    const model::Architecture& arch_;
};

// Rows [first, first + count) of a matrix as a view of it (a fused projection's part).
Tensor row_slice(const Tensor& W, int64_t first, int64_t count) {
    Tensor part = W;
    part.data = W.row(first);
    part.shape = {count, W.row_length()};
    return part;
}

// A norm weight as rms_norm multiplies by it: w itself, or 1 + w where the file stores the w of
// x·(1 + w) (computed in f32, as transformers does).
std::vector<float> norm_scale(std::vector<float> w, model::NormWeight stored) {
    if (stored == model::NormWeight::one_plus)
        for (float& v : w) v = 1.0f + v;
    return w;
}

}  // namespace

ModelWeights::ModelWeights(const ModelFiles& files, const model::Architecture& arch) {
    const ModelConfig& c = files.config;
    const int64_t V = c.vocab_size, D = c.hidden_size, F = c.intermediate_size;
    const int64_t q_dim = int64_t(c.num_heads) * c.head_dim, kv_dim = int64_t(c.num_kv_heads) * c.head_dim;
    const Binder bind(files, arch);
    const model::NormWeight norm = files.naming == TensorNaming::gguf ? arch.gguf_norm : arch.hf_norm;
    auto norm_vector = [&](WeightRole role, int layer) { return norm_scale(bind.vector(role, layer, D, true), norm); };

    const bool biases = arch.linear_bias;  // Phi-2: required everywhere; the others: none bound
    auto bias = [&](WeightRole role, int layer, int64_t n) {
        return biases ? bind.vector(role, layer, n, true) : std::vector<float>();
    };
    token_embedding = bind.matrix(WeightRole::token_embedding, 0, V, D);
    output_norm = norm_vector(WeightRole::output_norm, 0);
    output_norm_bias = bias(WeightRole::output_norm_bias, 0, D);
    output_bias = bias(WeightRole::output_bias, 0, V);
    // Tied models usually ship no output matrix (in GGUF its absence is what says "tied"); a
    // file that has one anyway is used as it is. HF configs of architectures that tie by default
    // (Gemma) may not say so.
    const bool tied = c.tie_word_embeddings || arch.tied_by_default;
    if (bind.find(WeightRole::output, 0) || (!tied && files.naming == TensorNaming::hf))
        output = bind.matrix(WeightRole::output, 0, V, D);
    else
        output = token_embedding;
    rope_factors = bind.vector(WeightRole::rope_freqs, 0, c.head_dim / 2, false);

    const bool bias_required = arch.qkv_bias || c.attention_bias;
    layers.resize(static_cast<size_t>(c.num_layers));
    for (int l = 0; l < c.num_layers; ++l) {
        LayerWeights& w = layers[size_t(l)];
        w.attn_norm = norm_vector(WeightRole::attn_norm, l);
        w.attn_norm_bias = bias(WeightRole::attn_norm_bias, l, D);
        if (arch.qk_norm) {
            w.q_norm = norm_scale(bind.vector(WeightRole::attn_q_norm, l, c.head_dim, true), norm);
            w.k_norm = norm_scale(bind.vector(WeightRole::attn_k_norm, l, c.head_dim, true), norm);
        }
        if (arch.fused_qkv) {  // rows: q [H*Dh], then k [Hkv*Dh], then v [Hkv*Dh]
            const Tensor qkv = bind.matrix(WeightRole::attn_qkv, l, q_dim + 2 * kv_dim, D);
            w.wq = row_slice(qkv, 0, q_dim);
            w.wk = row_slice(qkv, q_dim, kv_dim);
            w.wv = row_slice(qkv, q_dim + kv_dim, kv_dim);
        } else {
            w.wq = bind.matrix(WeightRole::attn_q, l, q_dim, D);
            w.wk = bind.matrix(WeightRole::attn_k, l, kv_dim, D);
            w.wv = bind.matrix(WeightRole::attn_v, l, kv_dim, D);
        }
        w.wo = bind.matrix(WeightRole::attn_o, l, D, q_dim);
        w.bq = bind.vector(WeightRole::attn_q_bias, l, q_dim, bias_required);
        w.bk = bind.vector(WeightRole::attn_k_bias, l, kv_dim, bias_required);
        w.bv = bind.vector(WeightRole::attn_v_bias, l, kv_dim, bias_required);
        w.bo = bind.vector(WeightRole::attn_o_bias, l, D, biases);
        if (!arch.parallel_block) w.ffn_norm = norm_vector(WeightRole::ffn_norm, l);
        if (arch.post_norms) {
            w.attn_post_norm = norm_vector(WeightRole::attn_post_norm, l);
            w.ffn_post_norm = norm_vector(WeightRole::ffn_post_norm, l);
        }
        if (!arch.gated_mlp) {  // fc1 and fc2 (Phi-2)
            w.w_up = bind.matrix(WeightRole::ffn_up, l, F, D);
        } else if (arch.fused_gate_up) {  // rows: gate [F], then up [F]
            const Tensor gate_up = bind.matrix(WeightRole::ffn_gate_up, l, 2 * F, D);
            w.w_gate = row_slice(gate_up, 0, F);
            w.w_up = row_slice(gate_up, F, F);
        } else {
            w.w_gate = bind.matrix(WeightRole::ffn_gate, l, F, D);
            w.w_up = bind.matrix(WeightRole::ffn_up, l, F, D);
        }
        w.w_down = bind.matrix(WeightRole::ffn_down, l, D, F);
        w.b_up = bias(WeightRole::ffn_up_bias, l, F);
        w.b_down = bias(WeightRole::ffn_down_bias, l, D);
    }
}

void ModelWeights::quantize_layers_nf4(const TensorSource& source) {
    std::vector<Tensor*> matrices;
    for (LayerWeights& w : layers)
        for (Tensor* t : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down})
            if (t->data && traits(t->dtype).is_float) matrices.push_back(t);
    std::vector<std::optional<OwnedTensor>> copies(matrices.size());
    ThreadPool pool;
    pool.for_each_chunk(int64_t(matrices.size()), [&](int64_t i) {
        const Tensor& W = *matrices[size_t(i)];
        const int64_t K = W.row_length();
        if (K % quant::kNf4Block != 0)
            fail("--qlora: tensor of shape {} has rows of {} values, not a multiple of NF4's block of {}",
                 shape_string(W.shape), K, quant::kNf4Block);
        std::vector<float> values(size_t(W.numel()));
        traits(W.dtype).to_float(W.data, values.data(), W.numel());
        source.release_pages(W);
        const quant::BnbNf4 nf4 = quant::quantize_bnb_nf4(values.data(), W.numel());
        OwnedTensor out = OwnedTensor::zeros(DType::nf4, W.shape);
        quant::bnb_nf4_to_blocks(nf4, out.tensor.data);
        copies[size_t(i)] = std::move(out);
    });
    for (size_t i = 0; i < matrices.size(); ++i) {
        *matrices[i] = copies[i]->tensor;
        copies_.push_back(std::move(*copies[i]));
    }
}

void ModelWeights::use_cpu_layouts(const TensorSource& source, int first_layer) {
    std::vector<Tensor*> matrices;
    for (size_t l = size_t(std::max(first_layer, 0)); l < layers.size(); ++l)
        for (Tensor* t : {&layers[l].wq, &layers[l].wk, &layers[l].wv, &layers[l].wo, &layers[l].w_gate,
                          &layers[l].w_up, &layers[l].w_down})
            if (t->data) matrices.push_back(t);  // a plain MLP has no gate
    // A tied table serves the output matmul too (the biggest matrix of a small model: tinyllama-
    // spm-13m's q6_k table is 73% of its bytes), so it is interleaved as well, and the embedding
    // lookup reads its rows back out of their groups (one row per token).
    const bool tied = output.data == token_embedding.data;
    matrices.push_back(&output);
    interleave_matrices(matrices, source, copies_);  // even a tied table of 128k rows
    if (tied && first_layer == 0) token_embedding = output;
}

}  // namespace slm
