// The transformer forward, written once against the kernels ops, top to bottom: embedding
// (scaled by √D for Gemma), per layer (norm: RMSNorm, or LayerNorm with bias for Phi-2; q/k/v
// projections with optional bias, per-head q/k norms (Gemma 3), rotary embedding (of the first
// rot_dim dimensions for Phi-2; the sliding layers' own rope for Gemma 3), KV cache write, causal
// attention (sliding-window on the layers that slide, soft-capped scores for Gemma 2), output
// projection, post-norm (Gemma 2/3), residual, norm (Phi-2: none, its MLP reads the attention's
// input norm), MLP (gated SwiGLU or GeGLU, or Phi-2's fc1, GELU, fc2), post-norm (Gemma 2/3),
// residual), final norm, the vocabulary projection (with bias for Phi-2) and its soft-capping
// (Gemma 2). What differs between architectures is data (model/architecture.h) bound at load.
// Active LoRA adapters add s·(x Aᵀ) Bᵀ after each linear they update (lora_apply.h).
#include <slm/error.h>
#include <slm/half.h>
#include <slm/model.h>
#include <slm/thread_pool.h>

#include "model/architecture.h"
#include "model/lora_apply.h"
#include "model/model_weights.h"

#include <cmath>
#include <cstring>

namespace slm {

namespace {

// Stores rows of f32 values [T, Hkv*Dh] into cache slots at the given positions.
void store_rows(const float* rows, int64_t row_len, const int32_t* positions, int64_t T, uint8_t* block,
                size_t slot_bytes, DType dtype) {
    for (int64_t t = 0; t < T; ++t) {
        uint8_t* slot = block + size_t(positions[t]) * slot_bytes;
        const float* src = rows + t * row_len;
        if (dtype == DType::f32) {
            std::memcpy(slot, src, size_t(row_len) * sizeof(float));
        } else {
            auto* dst = reinterpret_cast<uint16_t*>(slot);
            for (int64_t i = 0; i < row_len; ++i) dst[i] = f32_to_f16(src[i]);
        }
    }
}

// Runs of at most this many tokens of one sequence attend on one thread each (see forward).
constexpr int64_t kShortRun = 8;

void check_config(const ModelConfig& c, const std::string& source) {
    auto positive = [&](int v, const char* field) {
        if (v <= 0) fail("{}: model config field {} is {}, expected a positive number", source, field, v);
    };
    positive(c.vocab_size, "vocab_size");
    positive(c.hidden_size, "hidden_size");
    positive(c.intermediate_size, "intermediate_size");
    positive(c.num_layers, "num_hidden_layers");
    positive(c.num_heads, "num_attention_heads");
    positive(c.num_kv_heads, "num_key_value_heads");
    positive(c.head_dim, "head_dim");
    if (c.num_heads % c.num_kv_heads != 0)
        fail("{}: {} attention heads cannot be grouped over {} key/value heads", source, c.num_heads, c.num_kv_heads);
    if (c.attn_logit_softcapping < 0 || c.final_logit_softcapping < 0 || c.query_pre_attn_scalar < 0)
        fail("{}: soft-capping values and query_pre_attn_scalar must not be negative", source);
}

using GatedActivation = void (*)(const float*, const float*, int64_t, float*, ThreadPool*);

// The gated MLP's act(gate) * up for config.json's hidden_act (transformers' ACT2FN names).
GatedActivation gated_activation(const std::string& act, const std::string& source) {
    if (act == "silu" || act == "swish") return kernels::silu_mul;
    // gelu_new and gelu_fast are the same tanh approximation written differently.
    if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast") return kernels::gelu_tanh_mul;
    if (act == "gelu") return kernels::gelu_mul;
    fail("{}: activation '{}' is not supported (silu, gelu_pytorch_tanh, gelu_new, gelu_fast, gelu)", source, act);
}

using Activation = void (*)(const float*, int64_t, float*, ThreadPool*);

// The plain MLP's act(x) for hidden_act (Phi-2: gelu_new).
Activation plain_activation(const std::string& act, const std::string& source) {
    if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast") return kernels::gelu_tanh;
    if (act == "gelu") return kernels::gelu;
    fail("{}: activation '{}' is not supported for a plain MLP (gelu_new, gelu_pytorch_tanh, gelu_fast, gelu)", source,
         act);
}

// Each layer's attention window: the config's layer_types where it has them, else the
// architecture's pattern of sliding and global layers.
std::vector<int> layer_windows(const ModelConfig& c, const model::Architecture& arch, const std::string& source) {
    std::vector<int> windows(size_t(c.num_layers), c.sliding_window);
    if (!c.layer_types.empty()) {
        if (c.layer_types.size() != size_t(c.num_layers))
            fail("{}: layer_types names {} layers, the model has {}", source, c.layer_types.size(), c.num_layers);
        for (size_t l = 0; l < windows.size(); ++l) {
            const std::string& type = c.layer_types[l];
            if (type == "full_attention") windows[l] = 0;
            else if (type != "sliding_attention")
                fail("{}: layer_types[{}] is '{}' (expected sliding_attention or full_attention)", source, l, type);
        }
    } else if (arch.global_every > 0) {
        for (size_t l = 0; l < windows.size(); ++l)
            if ((l + 1) % size_t(arch.global_every) == 0) windows[l] = 0;
    }
    return windows;
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& path, const ModelOptions& options) {
    return std::make_unique<Model>(ModelFiles::open(path), options);
}

Model::Model(ModelFiles files, const ModelOptions& options) : files_(std::move(files)) {
    const std::string source = files_.path;
    const ModelConfig& c = files_.config;
    check_config(c, source);
    const model::Architecture& arch = model::find_architecture(c.architecture, source);
    arch_ = &arch;
    if (files_.naming == TensorNaming::gguf && !arch.gguf)
        fail("{}: {} models are read from Hugging Face directories only for now, not from GGUF", source, arch.name);
    // GGUF names no activation: the architecture implies the one llama.cpp's graph applies.
    if (files_.naming == TensorNaming::gguf) files_.config.hidden_act = std::string(arch.gguf_activation);
    rope_mode_ = files_.naming == TensorNaming::gguf ? arch.gguf_rope : arch.hf_rope;
    if (arch.gated_mlp) gated_activation_ = gated_activation(c.hidden_act, source);
    else activation_ = plain_activation(c.hidden_act, source);
    layer_window_ = layer_windows(c, arch, source);
    attn_scale_ = float(1.0 / std::sqrt(c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : double(c.head_dim)));
    // transformers: hidden_size ** 0.5 in the activations' dtype.
    if (arch.embedding_scale) embedding_scale_ = float(std::sqrt(double(c.hidden_size)));
    weights_ = std::make_unique<ModelWeights>(files_, arch);
    if (options.nf4_matrices) weights_->quantize_layers_nf4(*files_.tensors);
    if (options.cpu_layouts) weights_->use_cpu_layouts(*files_.tensors);

    RopeFrequencies rope = rope_frequencies(c);
    // GGUF llama3 models carry their rope scaling as per-frequency divisors (rope_freqs.weight).
    if (!weights_->rope_factors.empty())
        for (size_t i = 0; i < rope.inv_freq.size(); ++i) rope.inv_freq[i] /= weights_->rope_factors[i];
    rope_inv_freq_ = std::move(rope.inv_freq);
    rope_mscale_ = rope.mscale;
    rope_long_inv_freq_ = std::move(rope.long_inv_freq);
    rope_long_context_ = rope.long_context;
    rope_dim_ = rotary_dim(c);
    // Gemma 3's sliding layers: their own base and no scaling.
    if (const double local = c.rope_local_theta > 0 ? c.rope_local_theta : arch.local_rope_theta; local > 0) {
        ModelConfig local_config = c;
        local_config.rope_theta = local;
        local_config.rope_scaling = RopeScaling{};
        rope_local_inv_freq_ = rope_frequencies(local_config).inv_freq;
    }
}

Model::~Model() = default;

void Model::forward(const Batch& batch, KvCache& cache, std::vector<float>& logits, ThreadPool* pool,
                    std::vector<float>* hidden, const LoraStack* adapters) const {
    const ModelConfig& c = files_.config;
    const int64_t T = int64_t(batch.size());
    const int64_t D = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
    const int64_t H = c.num_heads, Hkv = c.num_kv_heads, Dh = c.head_dim;
    const int64_t q_dim = H * Dh, kv_dim = Hkv * Dh;
    const float attn_softcap = float(c.attn_logit_softcapping), logit_softcap = float(c.final_logit_softcapping);
    const float eps = float(c.rms_norm_eps);
    const int64_t rot = rope_dim_;
    const model::Architecture& arch = *arch_;
    logits.clear();
    if (T == 0) return;
    if (batch.positions.size() != size_t(T) || batch.seq_ids.size() != size_t(T) || batch.want_logits.size() != size_t(T))
        fail("forward: batch arrays differ in length");
    if (adapters && !adapters->empty() && adapters->model() != this)
        fail("forward: the LoRA adapters were bound to another model ({}), not to {}", adapters->model()->files().path,
             files_.path);
    const model::BoundLoras* lora = adapters ? adapters->bound() : nullptr;
    using model::WeightRole;
    // y += Σ s·(x Aᵀ) Bᵀ over the adapters of linear `role` of layer `l` (none: nothing).
    auto add_lora = [&](int l, WeightRole role, const float* x, float* y) {
        model::add_lora(lora, l, role, x, T, y, pool);
    };

    // Each sequence's entries must continue its cache at consecutive positions.
    std::vector<int> next_pos(size_t(cache.n_seq()));
    for (int s = 0; s < cache.n_seq(); ++s) next_pos[size_t(s)] = cache.length(s);
    for (int64_t t = 0; t < T; ++t) {
        const int32_t tok = batch.tokens[size_t(t)], seq = batch.seq_ids[size_t(t)], pos = batch.positions[size_t(t)];
        if (tok < 0 || tok >= V) fail("forward: token id {} is out of the vocabulary (size {})", tok, V);
        if (seq < 0 || seq >= cache.n_seq()) fail("forward: sequence id {} is out of range ({} sequences)", seq, cache.n_seq());
        if (pos != next_pos[size_t(seq)])
            fail("forward: sequence {} continues at position {}, but the batch gives position {}", seq,
                 next_pos[size_t(seq)], pos);
        if (pos >= cache.n_ctx())
            fail("forward: context is full: position {} does not fit in the context of {} tokens", pos, cache.n_ctx());
        ++next_pos[size_t(seq)];
    }

    struct SequenceRun {
        int64_t begin, end;  // batch entries [begin, end), all of sequence `seq`
        int32_t seq;
    };
    std::vector<SequenceRun> runs;
    for (int64_t begin = 0; begin < T;) {
        const int32_t seq = batch.seq_ids[size_t(begin)];
        int64_t end = begin + 1;
        while (end < T && batch.seq_ids[size_t(end)] == seq) ++end;
        runs.push_back({begin, end, seq});
        begin = end;
    }

    std::vector<float> x(size_t(T * D)), xn(size_t(T * D));
    std::vector<float> q(size_t(T * q_dim)), k(size_t(T * kv_dim)), v(size_t(T * kv_dim)), att(size_t(T * q_dim));
    std::vector<float> gate(size_t(T * F)), up(size_t(T * F)), proj(size_t(T * D));
    const int32_t* positions = batch.positions.data();
    std::vector<float> rope_cos_sin(size_t(T * rot));
    // longrope: a cache longer than the original context rotates every position by the long factors.
    const bool long_rope = !rope_long_inv_freq_.empty() && cache.n_ctx() > rope_long_context_;
    kernels::rope_angles(positions, T, rot, (long_rope ? rope_long_inv_freq_ : rope_inv_freq_).data(), rope_mscale_,
                         rope_cos_sin.data(), pool);
    // Gemma 3: the sliding layers' rotation.
    std::vector<float> rope_local_cos_sin;
    if (!rope_local_inv_freq_.empty()) {
        rope_local_cos_sin.resize(size_t(T * rot));
        kernels::rope_angles(positions, T, rot, rope_local_inv_freq_.data(), 1.0f, rope_local_cos_sin.data(), pool);
    }

    // Every norm of the model: RMSNorm x·w, or LayerNorm with bias (Phi-2).
    auto norm = [&](const float* in, const std::vector<float>& w, const std::vector<float>& b, int64_t rows, float* out) {
        if (arch.norm_kind == model::NormKind::layer)
            kernels::layer_norm(in, w.data(), b.empty() ? nullptr : b.data(), rows, D, eps, out, pool);
        else
            kernels::rms_norm(in, w.data(), rows, D, eps, out, pool);
    };

    // x: [T, D] = token embeddings (times √D for Gemma)
    kernels::get_rows(weights_->token_embedding, batch.tokens.data(), T, x.data(), pool);
    if (embedding_scale_ != 1.0f) kernels::multiply(x.data(), T * D, embedding_scale_);

    for (int l = 0; l < c.num_layers; ++l) {
        const LayerWeights& w = weights_->layers[size_t(l)];

        // Attention block. xn: [T, D] = norm(x)
        norm(x.data(), w.attn_norm, w.attn_norm_bias, T, xn.data());
        // q: [T, H, Dh], k and v: [T, Hkv, Dh]
        const kernels::MatmulOut qkv[] = {{&w.wq, q.data()}, {&w.wk, k.data()}, {&w.wv, v.data()}};
        kernels::matmul(qkv, xn.data(), T, pool);
        add_lora(l, WeightRole::attn_q, xn.data(), q.data());
        add_lora(l, WeightRole::attn_k, xn.data(), k.data());
        add_lora(l, WeightRole::attn_v, xn.data(), v.data());
        if (!w.bq.empty()) {
            kernels::add_bias(q.data(), w.bq.data(), T, q_dim);
            kernels::add_bias(k.data(), w.bk.data(), T, kv_dim);
            kernels::add_bias(v.data(), w.bv.data(), T, kv_dim);
        }
        // Gemma 3: each head of q and k RMS-normed over its Dh values.
        if (!w.q_norm.empty()) {
            kernels::rms_norm(q.data(), w.q_norm.data(), T * H, Dh, eps, q.data(), pool);
            kernels::rms_norm(k.data(), w.k_norm.data(), T * Hkv, Dh, eps, k.data(), pool);
        }
        const bool local_rope = !rope_local_cos_sin.empty() && layer_window_[size_t(l)] > 0;
        const float* cos_sin = (local_rope ? rope_local_cos_sin : rope_cos_sin).data();
        kernels::rope(q.data(), T, H, Dh, cos_sin, rope_mode_, pool, rot);
        kernels::rope(k.data(), T, Hkv, Dh, cos_sin, rope_mode_, pool, rot);

        // Each run of consecutive entries of one sequence: write its k/v into the cache, then
        // attend over that sequence's cache. att: [T, H, Dh]
        for (const SequenceRun& run : runs) {
            const int64_t n = run.end - run.begin;
            store_rows(k.data() + run.begin * kv_dim, kv_dim, positions + run.begin, n, cache.keys(l, run.seq),
                       cache.slot_bytes(), cache.dtype());
            store_rows(v.data() + run.begin * kv_dim, kv_dim, positions + run.begin, n, cache.values(l, run.seq),
                       cache.slot_bytes(), cache.dtype());
        }
        auto attend = [&](const SequenceRun& run, ThreadPool* threads) {
            const int64_t S = positions[run.end - 1] + 1;  // cache positions 0..S-1 are now valid
            kernels::attention(q.data() + run.begin * q_dim, run.end - run.begin, H, Hkv, Dh, cache.keys(l, run.seq),
                               cache.values(l, run.seq), cache.dtype(), S, positions + run.begin, layer_window_[size_t(l)],
                               attn_scale_, att.data() + run.begin * q_dim, threads, attn_softcap);
        };
        // A prompt chunk is split over the threads by query blocks and heads; the single tokens
        // of a batched decode step are too little work to split, so those sequences are spread
        // over the threads instead.
        std::vector<const SequenceRun*> short_runs;
        for (const SequenceRun& run : runs) {
            if (run.end - run.begin > kShortRun || runs.size() == 1) attend(run, pool);
            else short_runs.push_back(&run);
        }
        if (pool == nullptr) {
            for (const SequenceRun* run : short_runs) attend(*run, nullptr);
        } else {
            pool->parallel_for(int64_t(short_runs.size()), [&](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r) attend(*short_runs[size_t(r)], nullptr);
            });
        }

        // x += att @ Wo^T  (Gemma 2/3: x += rmsnorm(att @ Wo^T))
        kernels::matmul(w.wo, att.data(), T, proj.data(), pool);
        add_lora(l, WeightRole::attn_o, att.data(), proj.data());
        if (!w.bo.empty()) kernels::add_bias(proj.data(), w.bo.data(), T, D);
        if (!w.attn_post_norm.empty()) kernels::rms_norm(proj.data(), w.attn_post_norm.data(), T, D, eps, proj.data(), pool);
        kernels::add(x.data(), proj.data(), T * D);

        // MLP block (SwiGLU, or GeGLU for Gemma). xn = norm(x); h: [T, F] = act(xn Wg^T) * (xn Wu^T);
        // x += h Wd^T  (Gemma 2/3: x += rmsnorm(h Wd^T)). Phi-2 runs it in parallel with the
        // attention: xn stays the attention's input norm, h = gelu(xn Wu^T + bu), x += h Wd^T + bd.
        if (!arch.parallel_block) norm(x.data(), w.ffn_norm, {}, T, xn.data());
        if (arch.gated_mlp) {
            const kernels::MatmulOut gate_up[] = {{&w.w_gate, gate.data()}, {&w.w_up, up.data()}};
            kernels::matmul(gate_up, xn.data(), T, pool);
            add_lora(l, WeightRole::ffn_gate, xn.data(), gate.data());
            add_lora(l, WeightRole::ffn_up, xn.data(), up.data());
            gated_activation_(gate.data(), up.data(), T * F, gate.data(), pool);
        } else {
            kernels::matmul(w.w_up, xn.data(), T, gate.data(), pool);
            add_lora(l, WeightRole::ffn_up, xn.data(), gate.data());
            if (!w.b_up.empty()) kernels::add_bias(gate.data(), w.b_up.data(), T, F);
            activation_(gate.data(), T * F, gate.data(), pool);
        }
        kernels::matmul(w.w_down, gate.data(), T, proj.data(), pool);
        add_lora(l, WeightRole::ffn_down, gate.data(), proj.data());
        if (!w.b_down.empty()) kernels::add_bias(proj.data(), w.b_down.data(), T, D);
        if (!w.ffn_post_norm.empty()) kernels::rms_norm(proj.data(), w.ffn_post_norm.data(), T, D, eps, proj.data(), pool);
        kernels::add(x.data(), proj.data(), T * D);
    }
    for (int64_t t = 0; t < T; ++t) cache.extend(batch.seq_ids[size_t(t)], batch.positions[size_t(t)] + 1);

    // Only the rows whose logits are wanted go through the (large) vocabulary projection.
    // rows: [N, D] -> norm -> logits: [N, V] (Phi-2: plus a bias; Gemma 2: soft-capped)
    int64_t N = 0;
    for (int64_t t = 0; t < T; ++t)
        if (batch.want_logits[size_t(t)]) std::memmove(x.data() + (N++) * D, x.data() + t * D, size_t(D) * sizeof(float));
    if (N == 0) return;
    norm(x.data(), weights_->output_norm, weights_->output_norm_bias, N, xn.data());
    if (hidden) hidden->assign(xn.begin(), xn.begin() + N * D);
    logits.resize(size_t(N * V));
    kernels::matmul(weights_->output, xn.data(), N, logits.data(), pool);
    if (!weights_->output_bias.empty()) kernels::add_bias(logits.data(), weights_->output_bias.data(), N, V);
    if (logit_softcap > 0) kernels::softcap(logits.data(), N * V, logit_softcap, pool);
}

}  // namespace slm
