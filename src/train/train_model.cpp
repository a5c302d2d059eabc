// The training pass (train_model.h): Model::forward's layers over packed sequences, each op
// keeping what its backward reads, then the backward of each op in reverse order. Notation per
// layer, as in model.cpp: x is the residual stream [T, D]; a linear module is
// y = x Wᵀ (+ b) + s·(x Aᵀ) Bᵀ, with W frozen and A: [r, in], B: [out, r] trained (PEFT's LoRA;
// s = alpha / r), or W and b trained themselves (full training: dW += dyᵀ x, db += Σ_t dy).
#include "train/train_model.h"

#include "train/model_parameters.h"

#include "model/architecture.h"
#include "model/model_weights.h"
#include "model/qk_row_order.h"

#include <slm/error.h>
#include <slm/kernels.h>
#include <slm/train_ops.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace slm::train {

namespace {

constexpr const char* kRoleNames[kLinearRoles] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                  "gate_proj", "up_proj", "down_proj"};

// A 64-bit mix (splitmix64's finalizer): the dropout masks are a pure function of their
// coordinates, so a resumed run draws the same masks as one that never stopped.
uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// y = x Wᵀ through a frozen base weight. Weights held in the CPU's fast GEMM layout (q8_0, q4_0,
// q5_0, q4_k, q6_k: interleaved8) go through the inference matmul, whose 8-bit integer GEMM is
// about twice as fast as converting tiles to f32 (tinyqwen2 q8_0: 2.0-2.4x PyTorch's tokens/s
// against 1.1-1.3x), its activations rounded to 8 bits as llama.cpp and slm inference run them.
// Float weights and NF4 (QLoRA) go through kernels::frozen_matmul: f32 activations, as PyTorch
// and bitsandbytes compute. The backward is f32 either way (matmul_backward_input).
void base_linear(const Tensor& W, const float* x, int64_t T, float* y, ThreadPool* pool) {
    if (W.layout == Layout::interleaved8) kernels::matmul(W, x, T, y, pool);
    else kernels::frozen_matmul(W, x, T, y, pool);
}

// llama.cpp's q/k row order (a LoRA B trained against a GGUF llama base follows it): model/qk_row_order.h.
using model::permute_head_rows;

}  // namespace

const char* linear_name(LinearRole role) { return kRoleNames[int(role)]; }

std::string module_path(LinearRole role, int layer) {
    const bool attention = role <= LinearRole::o_proj;
    return fmt::format("model.layers.{}.{}.{}", layer, attention ? "self_attn" : "mlp", linear_name(role));
}

std::vector<LinearRole> parse_targets(const std::string& list) {
    std::vector<LinearRole> roles;
    auto add = [&](LinearRole r) {
        if (std::find(roles.begin(), roles.end(), r) == roles.end()) roles.push_back(r);
    };
    size_t start = 0;
    while (start <= list.size()) {
        size_t end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        std::string name = list.substr(start, end - start);
        name.erase(0, name.find_first_not_of(" \t"));
        name.erase(name.find_last_not_of(" \t") + 1);
        start = end + 1;
        if (name.empty()) continue;
        if (name == "all-linear" || name == "all_linear") {
            for (int r = 0; r < kLinearRoles; ++r) add(LinearRole(r));
            continue;
        }
        const auto* it = std::find_if(std::begin(kRoleNames), std::end(kRoleNames),
                                      [&](const char* n) { return name == n; });
        if (it == std::end(kRoleNames))
            fail("--target: '{}' matches no linear module of this model; its linear modules are {} (or all-linear)",
                 name, fmt::join(kRoleNames, ", "));
        add(LinearRole(it - std::begin(kRoleNames)));
    }
    if (roles.empty()) fail("--target: no module named");
    return roles;
}

namespace {

// in and out features of a role's weight.
std::pair<int64_t, int64_t> role_shape(const ModelConfig& c, LinearRole role) {
    const int64_t D = c.hidden_size, F = c.intermediate_size;
    const int64_t q_dim = int64_t(c.num_heads) * c.head_dim, kv_dim = int64_t(c.num_kv_heads) * c.head_dim;
    switch (role) {
        case LinearRole::q_proj: return {D, q_dim};
        case LinearRole::k_proj:
        case LinearRole::v_proj: return {D, kv_dim};
        case LinearRole::o_proj: return {q_dim, D};
        case LinearRole::gate_proj:
        case LinearRole::up_proj: return {D, F};
        case LinearRole::down_proj: return {F, D};
    }
    return {0, 0};
}

}  // namespace

LoraAdapter init_adapter(const ModelConfig& config, const std::vector<LinearRole>& targets, const LoraConfig& lora,
                         uint64_t seed) {
    LoraAdapter adapter;
    adapter.config = lora;
    adapter.config.target_modules.clear();
    for (LinearRole r : targets) adapter.config.target_modules.push_back(linear_name(r));
    std::mt19937_64 rng(seed);
    for (int l = 0; l < config.num_layers; ++l)
        for (LinearRole role : targets) {
            LoraModule m;
            m.module = module_path(role, l);
            std::tie(m.in_features, m.out_features) = role_shape(config, role);
            m.rank = adapter.config.rank_for(m.module);
            m.scale = adapter.config.scale_for(m.module);
            m.a.resize(size_t(m.rank * m.in_features));
            m.b.assign(size_t(m.out_features * m.rank), 0.0f);
            const float bound = 1.0f / std::sqrt(float(m.in_features));
            std::uniform_real_distribution<float> uniform(-bound, bound);
            for (float& v : m.a) v = uniform(rng);
            adapter.modules.push_back(std::move(m));
        }
    return adapter;
}

// What one layer's backward reads (all [T, ·] row-major).
// What one layer's backward reads (all [T, ·] row-major).
struct TrainModel::Activations {
    std::vector<float> q, k, v, att, lse, x_mid, gate, up;
    std::array<std::vector<float>, kLinearRoles> u;  // each adapter's (dropout(x)) Aᵀ: [T, r]
};

struct TrainModel::Workspace {
    std::vector<std::vector<float>> xs;  // xs[l]: the residual stream entering layer l
    std::vector<Activations> acts;
};

struct TrainModel::Context {
    int64_t T;
    const int32_t* seg_begin;
    std::vector<float> cos_sin;  // [T, Dh], kernels::rope_angles
    const PassOptions* options;
    ThreadPool* pool;
    // The normed inputs of the attention and MLP blocks and the MLP's hidden activations: one
    // layer's worth, shared by all layers. The backward recomputes them from what each layer
    // keeps (two rmsnorms and a SiLU·mul, cheap), so they are not held for every layer.
    mutable std::vector<float> xn1, xn2, h;
};

TrainModel::~TrainModel() = default;

namespace {

// The pass is written for the Llama family's layer (RMSNorm, SwiGLU, q/k/v bias at most, one
// attention window); other families and configs run in Model::forward but would train wrongly here.
void check_trainable(const ModelConfig& c) {
    if (!model::is_llama_forward(model::find_architecture(c.architecture, "model"), c))
        fail("training supports the Llama family (llama, mistral, qwen2); a {} model runs in slm but is not "
             "trainable yet",
             c.architecture);
}

}  // namespace

void TrainModel::bind_base(const Model& base) {
    config_ = base.config();
    check_trainable(config_);
    rope_mode_ = base.rope_mode();
    rope_inv_freq_ = base.rope_inv_freq();
    rope_mscale_ = base.rope_mscale();
    const ModelWeights& w = base.weights();
    embedding_ = w.token_embedding;
    output_ = w.output;
    output_norm_ = w.output_norm.data();
    auto bias = [](const std::vector<float>& b) { return b.empty() ? nullptr : b.data(); };
    for (const LayerWeights& lw : w.layers) {
        Layer& l = layers_.emplace_back();
        const std::array<const Tensor*, kLinearRoles> ws = {&lw.wq, &lw.wk, &lw.wv, &lw.wo,
                                                           &lw.w_gate, &lw.w_up, &lw.w_down};
        for (int r = 0; r < kLinearRoles; ++r) l.linear[size_t(r)].w = *ws[size_t(r)];
        l.linear[size_t(LinearRole::q_proj)].bias = bias(lw.bq);
        l.linear[size_t(LinearRole::k_proj)].bias = bias(lw.bk);
        l.linear[size_t(LinearRole::v_proj)].bias = bias(lw.bv);
        l.linear[size_t(LinearRole::o_proj)].bias = bias(lw.bo);
        l.attn_norm = lw.attn_norm.data();
        l.ffn_norm = lw.ffn_norm.data();
    }
    by_layer_.assign(size_t(config_.num_layers), {});
}

TrainModel::TrainModel(const Model& base) : work_(std::make_unique<Workspace>()) { bind_base(base); }

TrainModel::TrainModel(ModelParameters& params) : full_(&params), work_(std::make_unique<Workspace>()) {
    config_ = params.config();
    check_trainable(config_);
    const model::Architecture& arch = model::find_architecture(config_.architecture, "model");
    rope_mode_ = arch.hf_rope;
    RopeFrequencies rope = rope_frequencies(config_);
    rope_inv_freq_ = std::move(rope.inv_freq);
    rope_mscale_ = rope.mscale;
    // Each weight by its HF name: a view of the f32 master copy, and its gradient.
    auto entry = [&](model::WeightRole role, int layer) -> ModelParameters::Entry* {
        return params.find(model::tensor_name(role, TensorNaming::hf, layer));
    };
    auto need = [&](model::WeightRole role, int layer) {
        ModelParameters::Entry* e = entry(role, layer);
        if (!e) fail("model parameters: '{}' is missing", model::tensor_name(role, TensorNaming::hf, layer));
        return e;
    };
    auto view = [](ModelParameters::Entry* e) { return Tensor{DType::f32, e->shape, e->value.data()}; };
    ModelParameters::Entry* emb = need(model::WeightRole::token_embedding, 0);
    embedding_ = view(emb);
    grad_embedding_ = emb->grad.data();
    ModelParameters::Entry* out = config_.tie_word_embeddings ? emb : need(model::WeightRole::output, 0);
    output_ = view(out);
    grad_output_ = out->grad.data();
    ModelParameters::Entry* norm = need(model::WeightRole::output_norm, 0);
    output_norm_ = norm->value.data();
    grad_output_norm_ = norm->grad.data();
    using model::WeightRole;
    constexpr std::array<WeightRole, kLinearRoles> kWeights = {WeightRole::attn_q, WeightRole::attn_k,
                                                               WeightRole::attn_v, WeightRole::attn_o,
                                                               WeightRole::ffn_gate, WeightRole::ffn_up,
                                                               WeightRole::ffn_down};
    constexpr std::array<WeightRole, 4> kBiases = {WeightRole::attn_q_bias, WeightRole::attn_k_bias,
                                                   WeightRole::attn_v_bias, WeightRole::attn_o_bias};
    for (int l = 0; l < config_.num_layers; ++l) {
        Layer& layer = layers_.emplace_back();
        for (int r = 0; r < kLinearRoles; ++r) {
            ModelParameters::Entry* e = need(kWeights[size_t(r)], l);
            layer.linear[size_t(r)].w = view(e);
            layer.linear[size_t(r)].grad_w = e->grad.data();
            if (r < 4)
                if (ModelParameters::Entry* b = entry(kBiases[size_t(r)], l)) {
                    layer.linear[size_t(r)].bias = b->value.data();
                    layer.linear[size_t(r)].grad_bias = b->grad.data();
                }
        }
        ModelParameters::Entry* n1 = need(WeightRole::attn_norm, l);
        ModelParameters::Entry* n2 = need(WeightRole::ffn_norm, l);
        layer.attn_norm = n1->value.data();
        layer.grad_attn_norm = n1->grad.data();
        layer.ffn_norm = n2->value.data();
        layer.grad_ffn_norm = n2->grad.data();
    }
    by_layer_.assign(size_t(config_.num_layers), {});
}

TrainModel::TrainModel(const Model& base, const LoraAdapter& adapter) : work_(std::make_unique<Workspace>()) {
    bind_base(base);
    const ModelConfig& c = config_;
    config_adapter_.config = adapter.config;
    permuted_qk_ = model::qk_rows_permuted(base.files());
    for (const LoraModule& m : adapter.modules) {
        int role = -1, layer = -1;
        for (int l = 0; l < c.num_layers && role < 0; ++l)
            for (int r = 0; r < kLinearRoles; ++r)
                if (m.module == module_path(LinearRole(r), l)) {
                    role = r;
                    layer = l;
                    break;
                }
        if (role < 0)
            fail("adapter module '{}' is not a linear module of this {}-layer {} model (expected names such as {})",
                 m.module, c.num_layers, c.architecture, module_path(LinearRole::q_proj, 0));
        const auto [in, out] = role_shape(c, LinearRole(role));
        if (m.in_features != in || m.out_features != out || m.rank <= 0 ||
            m.a.size() != size_t(m.rank * in) || m.b.size() != size_t(out * m.rank))
            fail("adapter module '{}': A {}x{} and B {}x{} do not fit the model's {}x{} weight", m.module, m.rank,
                 m.in_features, m.out_features, m.rank, out, in);
        auto lora = std::make_unique<Lora>();
        lora->module = m;
        lora->in = in;
        lora->out = out;
        lora->rank = m.rank;
        if (permuted_qk_ && (role == int(LinearRole::q_proj) || role == int(LinearRole::k_proj)))
            lora->module.b = permute_head_rows(m.b, out, m.rank, c.head_dim, true);
        lora->grad_a.assign(lora->module.a.size(), 0.0f);
        lora->grad_b.assign(lora->module.b.size(), 0.0f);
        if (by_layer_[size_t(layer)][size_t(role)]) fail("adapter module '{}' appears twice", m.module);
        by_layer_[size_t(layer)][size_t(role)] = lora.get();
        loras_.push_back(std::move(lora));
    }
    // Parameters in the model's order (layer by layer, q … down), whatever order the adapter's
    // modules came in: the optimizer's moments and the checkpoint follow this order, and an
    // adapter read back from disk comes sorted by path instead.
    std::vector<std::unique_ptr<Lora>> ordered;
    for (auto& roles : by_layer_)
        for (Lora* lora : roles)
            if (lora)
                for (auto& owned : loras_)
                    if (owned.get() == lora) ordered.push_back(std::move(owned));
    loras_ = std::move(ordered);
}

std::vector<TrainModel::Parameter> TrainModel::parameters() {
    std::vector<Parameter> params;
    if (full_) {
        for (ModelParameters::Entry& e : full_->entries())
            params.push_back({e.name, e.value.data(), e.grad.data(), int64_t(e.value.size()), e.shape});
        return params;
    }
    for (auto& lora : loras_) {
        const std::string prefix = "base_model.model." + lora->module.module;
        params.push_back({prefix + ".lora_A.weight", lora->module.a.data(), lora->grad_a.data(),
                          int64_t(lora->module.a.size()), {lora->rank, lora->in}});
        const bool qk = lora->module.module.ends_with(".q_proj") || lora->module.module.ends_with(".k_proj");
        params.push_back({prefix + ".lora_B.weight", lora->module.b.data(), lora->grad_b.data(),
                          int64_t(lora->module.b.size()), {lora->out, lora->rank},
                          permuted_qk_ && qk ? int64_t(config_.head_dim) : 0});
    }
    return params;
}

void TrainModel::zero_grad() {
    if (full_) full_->zero_grad();
    for (auto& lora : loras_) {
        std::fill(lora->grad_a.begin(), lora->grad_a.end(), 0.0f);
        std::fill(lora->grad_b.begin(), lora->grad_b.end(), 0.0f);
    }
}

LoraAdapter TrainModel::adapter() const {
    LoraAdapter out = config_adapter_;
    const int64_t head_dim = config_.head_dim;
    for (const auto& lora : loras_) {
        LoraModule m = lora->module;
        const bool qk = m.module.ends_with(".q_proj") || m.module.ends_with(".k_proj");
        if (permuted_qk_ && qk) m.b = permute_head_rows(m.b, m.out_features, m.rank, head_dim, false);
        out.modules.push_back(std::move(m));
    }
    return out;
}

namespace {

// dropout(x) with PEFT's scaling (kept values / (1 - p)); the mask of element i of module `key`
// is a function of (seed, key, i).
void dropout(const float* x, int64_t n, float p, uint64_t seed, uint64_t key, float* out) {
    const float keep_scale = 1.0f / (1.0f - p);
    const uint64_t base = mix(seed ^ mix(key));
    const uint64_t threshold = uint64_t(double(p) * 18446744073709551616.0);
    for (int64_t i = 0; i < n; ++i) out[i] = mix(base + uint64_t(i)) >= threshold ? x[i] * keep_scale : 0.0f;
}

// db[n] += Σ_t dy[t, n]: a bias's gradient (in double, a column at a time per row block).
void add_column_sums(const float* dy, int64_t T, int64_t N, float* db) {
    std::vector<double> sum(size_t(N), 0.0);
    for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n) sum[size_t(n)] += dy[t * N + n];
    for (int64_t n = 0; n < N; ++n) db[n] += float(sum[size_t(n)]);
}

}  // namespace

void TrainModel::layer_forward(int l, const float* x_in, float* x_out, Activations& a, const Context& ctx) const {
    const ModelConfig& c = config_;
    const Layer& w = layers_[size_t(l)];
    const int64_t T = ctx.T, D = c.hidden_size, F = c.intermediate_size;
    const int64_t H = c.num_heads, Hkv = c.num_kv_heads, Dh = c.head_dim, q_dim = H * Dh, kv_dim = Hkv * Dh;
    const float eps = float(c.rms_norm_eps);
    ThreadPool* pool = ctx.pool;
    const PassOptions& opt = *ctx.options;
    auto sized = [](std::vector<float>& v, int64_t n) { v.resize(size_t(n)); return v.data(); };

    // y = x Wᵀ (+ b), plus s·(dropout(x) Aᵀ) Bᵀ when the module has an adapter (keeping x Aᵀ for
    // the backward).
    std::vector<float> dropped;
    auto linear = [&](LinearRole role, const float* x, float* y) {
        const Linear& lin = w.linear[size_t(role)];
        base_linear(lin.w, x, T, y, pool);
        if (lin.bias) kernels::add_bias(y, lin.bias, T, lin.w.dim(0));
        const Lora* lo = by_layer_[size_t(l)][size_t(role)];
        if (!lo) return;
        const float* xa = x;
        if (opt.dropout > 0) {
            dropout(x, T * lo->in, opt.dropout, opt.dropout_seed, uint64_t(l) * kLinearRoles + uint64_t(role),
                    sized(dropped, T * lo->in));
            xa = dropped.data();
        }
        float* u = sized(a.u[size_t(role)], T * lo->rank);
        kernels::sgemm(kernels::Trans::no, kernels::Trans::yes, T, lo->rank, lo->in, 1.0f, xa, lo->in,
                       lo->module.a.data(), lo->in, 0.0f, u, lo->rank, pool);
        kernels::sgemm(kernels::Trans::no, kernels::Trans::yes, T, lo->out, lo->rank, lo->module.scale, u, lo->rank,
                       lo->module.b.data(), lo->rank, 1.0f, y, lo->out, pool);
    };

    // Attention block: xn1 = rmsnorm(x); q, k, v = linear(xn1); rope; causal attention per sequence.
    kernels::rms_norm(x_in, w.attn_norm, T, D, eps, sized(ctx.xn1, T * D), pool);
    float* q = sized(a.q, T * q_dim);
    float* k = sized(a.k, T * kv_dim);
    float* v = sized(a.v, T * kv_dim);
    linear(LinearRole::q_proj, ctx.xn1.data(), q);
    linear(LinearRole::k_proj, ctx.xn1.data(), k);
    linear(LinearRole::v_proj, ctx.xn1.data(), v);
    kernels::rope(q, T, H, Dh, ctx.cos_sin.data(), rope_mode_, pool);
    kernels::rope(k, T, Hkv, Dh, ctx.cos_sin.data(), rope_mode_, pool);
    kernels::attention_train(q, k, v, T, H, Hkv, Dh, ctx.seg_begin, c.sliding_window, 1.0f / std::sqrt(float(Dh)),
                             sized(a.att, T * q_dim), sized(a.lse, T * H), pool);

    // x_mid = x + o(att)
    float* x_mid = sized(a.x_mid, T * D);
    linear(LinearRole::o_proj, a.att.data(), x_mid);
    kernels::add(x_mid, x_in, T * D);

    // MLP block (SwiGLU): xn2 = rmsnorm(x_mid); h = silu(gate(xn2)) * up(xn2); x_out = x_mid + down(h)
    kernels::rms_norm(x_mid, w.ffn_norm, T, D, eps, sized(ctx.xn2, T * D), pool);
    float* gate = sized(a.gate, T * F);
    float* up = sized(a.up, T * F);
    linear(LinearRole::gate_proj, ctx.xn2.data(), gate);
    linear(LinearRole::up_proj, ctx.xn2.data(), up);
    kernels::silu_mul(gate, up, T * F, sized(ctx.h, T * F), pool);
    linear(LinearRole::down_proj, ctx.h.data(), x_out);
    kernels::add(x_out, x_mid, T * D);
}

void TrainModel::layer_backward(int l, const float* x_in, float* dx, const Activations& a, bool input_grad,
                                const Context& ctx) {
    const ModelConfig& c = config_;
    const Layer& w = layers_[size_t(l)];
    const int64_t T = ctx.T, D = c.hidden_size, F = c.intermediate_size;
    const int64_t H = c.num_heads, Hkv = c.num_kv_heads, Dh = c.head_dim, q_dim = H * Dh, kv_dim = Hkv * Dh;
    const float eps = float(c.rms_norm_eps);
    ThreadPool* pool = ctx.pool;
    const PassOptions& opt = *ctx.options;
    using kernels::Trans;

    // Backward of linear `role` (input x [T, in], output gradient dy [T, out]): the gradients of
    // what it trains (W and b, or the adapter's A and B), and, when dx_out is given, the input
    // gradient through W and the adapter (added when `accumulate`).
    std::vector<float> dropped, du;
    auto linear_backward = [&](LinearRole role, const float* x, const float* dy, float* dx_out, bool accumulate) {
        const Linear& lin = w.linear[size_t(role)];
        const int64_t in = lin.w.dim(1), out = lin.w.dim(0);
        if (dx_out) kernels::matmul_backward_input(lin.w, dy, T, dx_out, accumulate, pool);
        // dW += dyᵀ x; db += Σ_t dy
        if (lin.grad_w)
            kernels::sgemm(Trans::yes, Trans::no, out, in, T, 1.0f, dy, out, x, in, 1.0f, lin.grad_w, in, pool);
        if (lin.grad_bias) add_column_sums(dy, T, out, lin.grad_bias);
        Lora* lo = by_layer_[size_t(l)][size_t(role)];
        if (!lo) return;
        const float s = lo->module.scale;
        const int64_t r = lo->rank;
        const float* xa = x;
        if (opt.dropout > 0) {
            dropped.resize(size_t(T * in));
            dropout(x, T * in, opt.dropout, opt.dropout_seed, uint64_t(l) * kLinearRoles + uint64_t(role),
                    dropped.data());
            xa = dropped.data();
        }
        const float* u = a.u[size_t(role)].data();
        du.resize(size_t(T * r));
        // dB += s·dyᵀ u;  du = s·dy B;  dA += duᵀ dropout(x);  dx += du A
        kernels::sgemm(Trans::yes, Trans::no, out, r, T, s, dy, out, u, r, 1.0f, lo->grad_b.data(), r, pool);
        kernels::sgemm(Trans::no, Trans::no, T, r, out, s, dy, out, lo->module.b.data(), r, 0.0f, du.data(), r, pool);
        kernels::sgemm(Trans::yes, Trans::no, r, in, T, 1.0f, du.data(), r, xa, in, 1.0f, lo->grad_a.data(), in, pool);
        if (dx_out) {
            // Dropout's backward: the gradient reaches x only where the mask kept it, scaled alike.
            if (opt.dropout > 0) {
                std::vector<float> dxa(size_t(T * in));
                kernels::sgemm(Trans::no, Trans::no, T, in, r, 1.0f, du.data(), r, lo->module.a.data(), in, 0.0f,
                               dxa.data(), in, pool);
                // The same mask (same seed and key) applied to the gradient: kept elements scaled alike.
                dropout(dxa.data(), T * in, opt.dropout, opt.dropout_seed, uint64_t(l) * kLinearRoles + uint64_t(role),
                        dxa.data());
                for (int64_t i = 0; i < T * in; ++i) dx_out[i] += dxa[size_t(i)];
            } else {
                kernels::sgemm(Trans::no, Trans::no, T, in, r, 1.0f, du.data(), r, lo->module.a.data(), in, 1.0f,
                               dx_out, in, pool);
            }
        }
    };

    // The normed inputs and the MLP's hidden activations again (Context::xn1).
    auto sized = [](std::vector<float>& v, int64_t n) { v.resize(size_t(n)); return v.data(); };
    kernels::rms_norm(x_in, w.attn_norm, T, D, eps, sized(ctx.xn1, T * D), pool);
    kernels::rms_norm(a.x_mid.data(), w.ffn_norm, T, D, eps, sized(ctx.xn2, T * D), pool);
    kernels::silu_mul(a.gate.data(), a.up.data(), T * F, sized(ctx.h, T * F), pool);

    // MLP block: x_out = x_mid + down(h), h = silu(gate) * up.
    std::vector<float> dgate(size_t(T * F)), dup(size_t(T * F)), dn(size_t(T * D)), dnorm(size_t(T * D));
    linear_backward(LinearRole::down_proj, ctx.h.data(), dx, dgate.data(), false);  // dgate holds dh
    kernels::silu_mul_backward(a.gate.data(), a.up.data(), dgate.data(), T * F, dgate.data(), dup.data(), pool);
    linear_backward(LinearRole::gate_proj, ctx.xn2.data(), dgate.data(), dn.data(), false);
    linear_backward(LinearRole::up_proj, ctx.xn2.data(), dup.data(), dn.data(), true);
    kernels::rms_norm_backward(a.x_mid.data(), w.ffn_norm, dn.data(), T, D, eps, dnorm.data(), w.grad_ffn_norm, pool);
    kernels::add(dx, dnorm.data(), T * D);  // dx is now d x_mid

    // Attention block: x_mid = x_in + o(attention(rope(q), rope(k), v)).
    std::vector<float> datt(size_t(T * q_dim)), dq(size_t(T * q_dim)), dk(size_t(T * kv_dim)), dv(size_t(T * kv_dim));
    linear_backward(LinearRole::o_proj, a.att.data(), dx, datt.data(), false);
    kernels::attention_train_backward(a.q.data(), a.k.data(), a.v.data(), a.att.data(), a.lse.data(), datt.data(), T,
                                      H, Hkv, Dh, ctx.seg_begin, c.sliding_window, 1.0f / std::sqrt(float(Dh)),
                                      dq.data(), dk.data(), dv.data(), pool);
    kernels::rope_backward(dq.data(), T, H, Dh, ctx.cos_sin.data(), rope_mode_, pool);
    kernels::rope_backward(dk.data(), T, Hkv, Dh, ctx.cos_sin.data(), rope_mode_, pool);
    // Below the first layer lies the embedding: its input gradient is needed only when the
    // embedding itself is trained; the adapters' and weights' gradients need none.
    float* dxn1 = input_grad ? dn.data() : nullptr;
    linear_backward(LinearRole::q_proj, ctx.xn1.data(), dq.data(), dxn1, false);
    linear_backward(LinearRole::k_proj, ctx.xn1.data(), dk.data(), dxn1, true);
    linear_backward(LinearRole::v_proj, ctx.xn1.data(), dv.data(), dxn1, true);
    if (!input_grad) return;  // (only a frozen embedding skips it: then every norm is frozen too)
    kernels::rms_norm_backward(x_in, w.attn_norm, dn.data(), T, D, eps, dnorm.data(), w.grad_attn_norm, pool);
    kernels::add(dx, dnorm.data(), T * D);  // dx is now d x_in
}

PassLoss TrainModel::run(const TrainBatch& batch, const PassOptions& options, Pass pass,
                         std::vector<float>* logits_out, ThreadPool* pool) {
    const ModelConfig& c = config_;
    const int64_t T = int64_t(batch.tokens.size()), D = c.hidden_size, V = c.vocab_size, L = c.num_layers;
    const bool backward = pass == Pass::train;
    PassLoss loss;
    if (logits_out) logits_out->clear();
    if (T == 0) return loss;
    if (batch.positions.size() != size_t(T) || batch.seg_begin.size() != size_t(T) || batch.labels.size() != size_t(T))
        fail("training batch arrays differ in length");
    for (int32_t id : batch.tokens)
        if (id < 0 || id >= V) fail("training batch: token id {} is out of the vocabulary (size {})", id, V);

    Context ctx{T, batch.seg_begin.data(), std::vector<float>(size_t(T * c.head_dim)), &options, pool, {}, {}, {}};
    kernels::rope_angles(batch.positions.data(), T, c.head_dim, rope_inv_freq_.data(), rope_mscale_,
                         ctx.cos_sin.data(), pool);

    // xs[l]: the residual stream entering layer l; xs[L]: after the last layer.
    std::vector<std::vector<float>>& xs = work_->xs;
    xs.resize(size_t(L + 1));
    for (auto& x : xs) x.resize(size_t(T * D));
    kernels::get_rows(embedding_, batch.tokens.data(), T, xs[0].data(), pool);
    const bool keep_all = backward && !options.checkpointing;
    std::vector<Activations>& acts = work_->acts;
    if (acts.size() < (keep_all ? size_t(L) : 1)) acts.resize(keep_all ? size_t(L) : 1);
    for (int l = 0; l < L; ++l)
        layer_forward(l, xs[size_t(l)].data(), xs[size_t(l + 1)].data(), acts[keep_all ? size_t(l) : 0], ctx);

    // Head: only the target rows go through the final norm and the vocabulary projection, a
    // chunk of rows at a time so that no [T, V] matrix is ever held (except when asked for).
    std::vector<int64_t> rows;
    for (int64_t t = 0; t < T; ++t)
        if (batch.labels[size_t(t)] >= 0) {
            if (batch.labels[size_t(t)] >= V) fail("training batch: label {} is out of the vocabulary", batch.labels[size_t(t)]);
            rows.push_back(t);
        }
    const int64_t N = int64_t(rows.size());
    loss.tokens = N;
    if (N == 0) return loss;
    std::vector<float> xl(size_t(N * D)), xn(size_t(N * D)), dxn(backward ? size_t(N * D) : 0);
    std::vector<int32_t> labels(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) {
        std::memcpy(xl.data() + i * D, xs[size_t(L)].data() + rows[size_t(i)] * D, size_t(D) * sizeof(float));
        labels[size_t(i)] = batch.labels[size_t(rows[size_t(i)])];
    }
    kernels::rms_norm(xl.data(), output_norm_, N, D, float(c.rms_norm_eps), xn.data(), pool);
    if (pass == Pass::logits) {
        logits_out->resize(size_t(N * V));
        base_linear(output_, xn.data(), N, logits_out->data(), pool);
        return loss;
    }
    const TeacherTargets* teacher = options.teacher;
    const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(N, (int64_t(1) << 24) / V));
    std::vector<float> logits(size_t(chunk * V));
    for (int64_t i = 0; i < N; i += chunk) {
        const int64_t n = std::min(chunk, N - i);
        base_linear(output_, xn.data() + i * D, n, logits.data(), pool);
        if (teacher) {
            kernels::TeacherLogits rows = teacher->logits;
            rows.logits += i * (rows.ids ? rows.k : rows.ld);
            if (rows.ids) rows.ids += i * rows.k;
            if (rows.lse) rows.lse += i;
            const kernels::DistillSums s = kernels::distill_loss(logits.data(), labels.data() + i, rows, n, V,
                                                                 teacher->alpha, teacher->temperature,
                                                                 options.grad_scale, pool);
            loss.ce += s.ce;
            loss.kl += s.kl;
            loss.sum += (1.0 - teacher->alpha) * s.ce +
                        double(teacher->alpha) * double(teacher->temperature) * teacher->temperature * s.kl;
        } else {
            const double ce = kernels::cross_entropy(logits.data(), labels.data() + i, n, V, options.grad_scale,
                                                     nullptr, pool);
            loss.ce += ce;
            loss.sum += ce;
        }
        if (!backward) continue;
        kernels::matmul_backward_input(output_, logits.data(), n, dxn.data() + i * D, false, pool);
        // The head's weight: dW += dlogitsᵀ xn (into the embedding's gradient when tied).
        if (grad_output_)
            kernels::sgemm(kernels::Trans::yes, kernels::Trans::no, V, D, n, 1.0f, logits.data(), V,
                           xn.data() + i * D, D, 1.0f, grad_output_, D, pool);
    }
    if (!backward) return loss;

    // dx: d loss / d xs[L], then walked back through the layers.
    std::vector<float> dxl(size_t(N * D));
    kernels::rms_norm_backward(xl.data(), output_norm_, dxn.data(), N, D, float(c.rms_norm_eps), dxl.data(),
                               grad_output_norm_, pool);
    std::vector<float> dx(size_t(T * D), 0.0f), scratch;
    for (int64_t i = 0; i < N; ++i)
        std::memcpy(dx.data() + rows[size_t(i)] * D, dxl.data() + i * D, size_t(D) * sizeof(float));
    for (int l = int(L) - 1; l >= 0; --l) {
        Activations& a = acts[keep_all ? size_t(l) : 0];
        if (!keep_all) {
            scratch.resize(size_t(T * D));
            layer_forward(l, xs[size_t(l)].data(), scratch.data(), a, ctx);
        }
        layer_backward(l, xs[size_t(l)].data(), dx.data(), a, l > 0 || grad_embedding_, ctx);
    }
    if (grad_embedding_) kernels::get_rows_backward(dx.data(), batch.tokens.data(), T, D, grad_embedding_);
    return loss;
}

PassLoss TrainModel::forward_backward(const TrainBatch& batch, const PassOptions& options, ThreadPool* pool) {
    return run(batch, options, Pass::train, nullptr, pool);
}

PassLoss TrainModel::evaluate(const TrainBatch& batch, ThreadPool* pool, const PassOptions& options) {
    return run(batch, options, Pass::evaluate, nullptr, pool);
}

int64_t TrainModel::target_logits(const TrainBatch& batch, std::vector<float>& logits, ThreadPool* pool) {
    return run(batch, PassOptions{}, Pass::logits, &logits, pool).tokens;
}

}  // namespace slm::train
