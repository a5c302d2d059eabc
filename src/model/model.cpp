// The transformer forward, written once against the kernels ops, top to bottom: embedding
// (scaled by √D for Gemma), per layer (norm: RMSNorm, or LayerNorm with bias for Phi-2; q/k/v
// projections with optional bias, per-head q/k norms (Gemma 3), rotary embedding (of the first
// rot_dim dimensions for Phi-2; the sliding layers' own rope for Gemma 3), KV cache write, causal
// attention (sliding-window on the layers that slide, soft-capped scores for Gemma 2), output
// projection, post-norm (Gemma 2/3), residual, norm (Phi-2: none, its MLP reads the attention's
// input norm), MLP (gated SwiGLU or GeGLU, or Phi-2's fc1, GELU, fc2), post-norm (Gemma 2/3),
// residual), final norm, the vocabulary projection (with bias for Phi-2) and its soft-capping
// (Gemma 2). What differs between architectures is data (model/architecture.h) bound at load.
// Active LoRA adapters add s·(x Aᵀ) Bᵀ after each linear they update (lora_apply.h). The ops are
// those of a Backend (backend.h): the CPU's kernels, or the GPU's over its copies of the weights
// (of every layer, or of the first gpu_layers, the CPU running the rest).
#include <slm/error.h>
#include <slm/model.h>
#include <slm/thread_pool.h>

#include "model/architecture.h"
#include "model/backend.h"
#include "model/cpu_backend.h"
#include "model/lora_apply.h"
#include "model/model_weights.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace slm {

namespace {

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

// The MLP's activation for config.json's hidden_act (transformers' ACT2FN names): the gated
// MLP's act(gate) * up (silu: SwiGLU; gelu_pytorch_tanh, gelu: GeGLU), or the plain MLP's act(x)
// (Phi-2's gelu_new). gelu_new and gelu_fast are the same tanh approximation written differently.
model::Activation mlp_activation(const std::string& act, bool gated, const std::string& source) {
    if (gated && (act == "silu" || act == "swish")) return model::Activation::silu;
    if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast") return model::Activation::gelu_tanh;
    if (act == "gelu") return model::Activation::gelu;
    if (gated) fail("{}: activation '{}' is not supported (silu, gelu_pytorch_tanh, gelu_new, gelu_fast, gelu)", source, act);
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
    activation_ = mlp_activation(c.hidden_act, arch.gated_mlp, source);
    layer_window_ = layer_windows(c, arch, source);
    attn_scale_ = float(1.0 / std::sqrt(c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : double(c.head_dim)));
    // transformers: hidden_size ** 0.5 in the activations' dtype.
    if (arch.embedding_scale) embedding_scale_ = float(std::sqrt(double(c.hidden_size)));
    weights_ = std::make_unique<ModelWeights>(files_, arch);
    if (options.nf4_matrices) weights_->quantize_layers_nf4(*files_.tensors);
    if (options.gpu_layers < -1)
        fail("{}: {} GPU layers requested (expected -1 for all, or a count from 0)", source, options.gpu_layers);
    gpu_layers_ = options.device == Device::cpu ? 0
                  : options.gpu_layers < 0      ? c.num_layers
                                                : std::min(options.gpu_layers, c.num_layers);
    device_ = gpu_layers_ > 0 ? options.device : Device::cpu;
    // A GPU reads its layers' weights in the file's layout (src/kernels/cuda/weight_slices.cuh).
    if (options.cpu_layouts && gpu_layers_ < c.num_layers) weights_->use_cpu_layouts(*files_.tensors, gpu_layers_);

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
    if (gpu_layers_ > 0) gpu_ = model::make_cuda_backend(*this);
}

Model::~Model() = default;

Device Model::device() const { return device_; }

void Model::forward(const Batch& batch, KvCache& cache, std::vector<float>& logits, ThreadPool* pool,
                    std::vector<float>* hidden, const LoraStack* adapters) const {
    run(batch, cache, logits, nullptr, pool, hidden, adapters);
}

void Model::forward_top(const Batch& batch, KvCache& cache, int k, TopTokens& top, ThreadPool* pool,
                        const LoraStack* adapters) const {
    if (k < 1 || k > kMaxTopTokens) fail("forward: {} top tokens asked for (1 to {})", k, kMaxTopTokens);
    top.k = std::min(k, vocab_size());
    std::vector<float> scratch;
    run(batch, cache, scratch, &top, pool, nullptr, adapters);
}

void Model::run(const Batch& batch, KvCache& cache, std::vector<float>& logits, TopTokens* top, ThreadPool* pool,
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
    if (top) {
        top->ids.clear();
        top->logits.clear();
    }
    if (T == 0) return;
    if (batch.positions.size() != size_t(T) || batch.seq_ids.size() != size_t(T) || batch.want_logits.size() != size_t(T))
        fail("forward: batch arrays differ in length");
    if (cache.device(0) != device_ || cache.device_layers() != gpu_layers_)
        fail("forward: the KV cache holds {} layers in {} memory, the model runs {} on the {} (make it with "
             "KvCache(model, ...))",
             cache.device_layers() > 0 ? cache.device_layers() : c.num_layers, device_name(cache.device(0)),
             gpu_layers_ > 0 ? gpu_layers_ : c.num_layers, device_name(device_));
    if (adapters && !adapters->empty() && adapters->model() != this)
        fail("forward: the LoRA adapters were bound to another model ({}), not to {}", adapters->model()->files().path,
             files_.path);
    const model::BoundLoras* lora = adapters ? adapters->bound() : nullptr;
    if (lora && device_ != Device::cpu) fail("forward: LoRA adapters run on the CPU only for now (the model is on the GPU)");
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

    // Runs of consecutive entries of one sequence: each writes its keys and values into that
    // sequence's cache at consecutive slots, then attends over it.
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
    std::vector<model::AttentionRun> attention_runs(runs.size());

    // longrope: a cache longer than the original context rotates every position by the long factors.
    const bool long_rope = !rope_long_inv_freq_.empty() && cache.n_ctx() > rope_long_context_;

    // The CPU's ops on host memory, or the GPU's on the model's copies of the weights: the GPU
    // runs the embedding lookup and layers [0, gpu_layers_), the CPU the rest (all of the step
    // when gpu_layers_ is 0). The step's shape (all that fixes the ops' arguments but the ids and
    // positions) lets the GPU replay an earlier step's ops as one graph.
    model::CpuBackend cpu(pool);
    model::Backend* be = gpu_layers_ > 0 ? gpu_.get() : &cpu;
    if (be->replays_steps()) {
        std::vector<int64_t> shape = {T,
                                      hidden != nullptr,
                                      top ? top->k : 0,
                                      long_rope,
                                      cache.n_ctx(),
                                      cache.n_seq(),
                                      int64_t(cache.dtype()),
                                      int64_t(reinterpret_cast<intptr_t>(cache.keys(0, 0)))};
        for (const SequenceRun& run : runs) shape.insert(shape.end(), {run.begin, run.end, run.seq});
        shape.insert(shape.end(), batch.want_logits.begin(), batch.want_logits.end());
        be->begin_step(shape);
    }
    // The step's activations in the memory of the backend that runs its ops, and the tokens' ids,
    // positions and rotation angles there.
    using Slot = model::Backend::Slot;
    float *x, *xn, *q, *k, *v, *att, *gate, *up, *proj, *rope_cos_sin, *rope_local_cos_sin = nullptr;
    const int32_t *tokens, *positions;
    auto run_on = [&](model::Backend& b) {
        be = &b;
        x = b.buffer(Slot::x, size_t(T * D));
        xn = b.buffer(Slot::xn, size_t(T * D));
        q = b.buffer(Slot::q, size_t(T * q_dim));
        k = b.buffer(Slot::k, size_t(T * kv_dim));
        v = b.buffer(Slot::v, size_t(T * kv_dim));
        att = b.buffer(Slot::att, size_t(T * q_dim));
        gate = b.buffer(Slot::gate, size_t(T * F));
        up = b.buffer(Slot::up, size_t(T * F));
        proj = b.buffer(Slot::proj, size_t(T * D));
        tokens = b.ints(model::Backend::IntSlot::tokens, batch.tokens);
        positions = b.ints(model::Backend::IntSlot::positions, batch.positions);
        rope_cos_sin = b.buffer(Slot::rope, size_t(T * rot));
        b.rope_angles(positions, T, rot, long_rope ? rope_long_inv_freq_ : rope_inv_freq_, rope_mscale_, rope_cos_sin);
        // Gemma 3: the sliding layers' rotation.
        if (!rope_local_inv_freq_.empty()) {
            rope_local_cos_sin = b.buffer(Slot::rope_local, size_t(T * rot));
            b.rope_angles(positions, T, rot, rope_local_inv_freq_, 1.0f, rope_local_cos_sin);
        }
    };
    run_on(*be);

    // Every norm of the model: RMSNorm x·w, or LayerNorm with bias (Phi-2).
    auto norm = [&](const float* in, const std::vector<float>& w, const std::vector<float>& b, int64_t rows, float* out) {
        if (arch.norm_kind == model::NormKind::layer) be->layer_norm(in, w, b, rows, D, eps, out);
        else be->rms_norm(in, w, rows, D, eps, out);
    };
    // x += a block's output, then xn = norm(x): one op for RMSNorm (the GPU's one launch).
    auto add_then_norm = [&](const float* block_out, const std::vector<float>& w, const std::vector<float>& b) {
        if (arch.norm_kind == model::NormKind::layer) {
            be->add(x, block_out, T * D);
            be->layer_norm(x, w, b, T, D, eps, xn);
        } else {
            be->add_rms_norm(x, block_out, w, T, D, eps, xn);
        }
    };

    // x: [T, D] = token embeddings (times √D for Gemma)
    be->get_rows(weights_->token_embedding, tokens, T, x);
    if (embedding_scale_ != 1.0f) be->multiply(x, T * D, embedding_scale_);

    // xn: [T, D] = the first layer's attention norm of x; each later one comes with the residual
    // add before it (add_then_norm).
    norm(x, weights_->layers[0].attn_norm, weights_->layers[0].attn_norm_bias, T, xn);
    for (int l = 0; l < c.num_layers; ++l) {
        const LayerWeights& w = weights_->layers[size_t(l)];
        // Past the GPU's layers: the residual stream and its norm cross to the host.
        if (l == gpu_layers_ && be != &cpu) {
            model::Backend& gpu = *be;
            const float *gpu_x = x, *gpu_xn = xn;
            run_on(cpu);
            gpu.to_host(gpu_x, size_t(T * D), x);
            gpu.to_host(gpu_xn, size_t(T * D), xn);
        }

        // Attention block, on xn = norm(x)
        // q: [T, H, Dh], k and v: [T, Hkv, Dh]
        const kernels::MatmulOut qkv[] = {{&w.wq, q}, {&w.wk, k}, {&w.wv, v}};
        be->matmul(qkv, xn, T);
        add_lora(l, WeightRole::attn_q, xn, q);
        add_lora(l, WeightRole::attn_k, xn, k);
        add_lora(l, WeightRole::attn_v, xn, v);
        if (!w.bq.empty()) {
            be->add_bias(q, w.bq, T, q_dim);
            be->add_bias(k, w.bk, T, kv_dim);
            be->add_bias(v, w.bv, T, kv_dim);
        }
        // Gemma 3: each head of q and k RMS-normed over its Dh values.
        if (!w.q_norm.empty()) {
            be->rms_norm(q, w.q_norm, T * H, Dh, eps, q);
            be->rms_norm(k, w.k_norm, T * Hkv, Dh, eps, k);
        }
        const bool local_rope = rope_local_cos_sin != nullptr && layer_window_[size_t(l)] > 0;
        const float* cos_sin = local_rope ? rope_local_cos_sin : rope_cos_sin;
        // q and k turned; each run's k/v into its sequence's cache (one op when the batch is one
        // sequence); then attention over each sequence's cache. att: [T, H, Dh]
        if (runs.size() == 1) {
            be->rope_store_kv(q, H, k, Hkv, v, T, Dh, cos_sin, rope_mode_, rot, cache.keys(l, runs[0].seq),
                             cache.values(l, runs[0].seq), positions, cache.dtype());
        } else {
            be->rope(q, H, k, Hkv, T, Dh, cos_sin, rope_mode_, rot);
            for (const SequenceRun& run : runs)
                be->store_kv(k + run.begin * kv_dim, v + run.begin * kv_dim, run.end - run.begin, kv_dim,
                            cache.keys(l, run.seq), cache.values(l, run.seq), positions + run.begin, cache.dtype());
        }
        for (size_t r = 0; r < runs.size(); ++r) {
            const SequenceRun& run = runs[r];
            // cache positions 0..length-1 are now valid
            attention_runs[r] = {run.begin, run.end, cache.keys(l, run.seq), cache.values(l, run.seq),
                                 int64_t(batch.positions[size_t(run.end - 1)]) + 1, cache.n_ctx()};
        }
        be->attention(q, attention_runs, H, Hkv, Dh, cache.dtype(), positions, layer_window_[size_t(l)], attn_scale_,
                     attn_softcap, att);

        // x += att @ Wo^T  (Gemma 2/3: x += rmsnorm(att @ Wo^T))
        be->matmul(w.wo, att, T, proj);
        add_lora(l, WeightRole::attn_o, att, proj);
        if (!w.bo.empty()) be->add_bias(proj, w.bo, T, D);
        if (!w.attn_post_norm.empty()) be->rms_norm(proj, w.attn_post_norm, T, D, eps, proj);

        // MLP block (SwiGLU, or GeGLU for Gemma). xn = norm(x); h: [T, F] = act(xn Wg^T) * (xn Wu^T);
        // x += h Wd^T  (Gemma 2/3: x += rmsnorm(h Wd^T)). Phi-2 runs it in parallel with the
        // attention: xn stays the attention's input norm, h = gelu(xn Wu^T + bu), x += h Wd^T + bd.
        if (arch.parallel_block) be->add(x, proj, T * D);
        else add_then_norm(proj, w.ffn_norm, {});
        if (arch.gated_mlp) {
            const kernels::MatmulOut gate_up[] = {{&w.w_gate, gate}, {&w.w_up, up}};
            be->matmul(gate_up, xn, T);
            add_lora(l, WeightRole::ffn_gate, xn, gate);
            add_lora(l, WeightRole::ffn_up, xn, up);
            be->gated(activation_, gate, up, T, F, gate);
        } else {
            be->matmul(w.w_up, xn, T, gate);
            add_lora(l, WeightRole::ffn_up, xn, gate);
            if (!w.b_up.empty()) be->add_bias(gate, w.b_up, T, F);
            be->activation(activation_, gate, T * F, gate);
        }
        be->matmul(w.w_down, gate, T, proj);
        add_lora(l, WeightRole::ffn_down, gate, proj);
        if (!w.b_down.empty()) be->add_bias(proj, w.b_down, T, D);
        if (!w.ffn_post_norm.empty()) be->rms_norm(proj, w.ffn_post_norm, T, D, eps, proj);
        if (l + 1 < c.num_layers) {
            const LayerWeights& next = weights_->layers[size_t(l + 1)];
            add_then_norm(proj, next.attn_norm, next.attn_norm_bias);
        } else {
            be->add(x, proj, T * D);
        }
    }
    for (int64_t t = 0; t < T; ++t) cache.extend(batch.seq_ids[size_t(t)], batch.positions[size_t(t)] + 1);

    // Only the rows whose logits are wanted go through the (large) vocabulary projection.
    // rows: [N, D] -> norm -> logits: [N, V] (Phi-2: plus a bias; Gemma 2: soft-capped)
    int64_t N = 0;
    for (int64_t t = 0; t < T; ++t) {
        if (!batch.want_logits[size_t(t)]) continue;
        if (N != t) be->copy(x + N * D, x + t * D, size_t(D));
        ++N;
    }
    if (N == 0) return be->end_step();
    norm(x, weights_->output_norm, weights_->output_norm_bias, N, xn);
    if (hidden) {
        hidden->resize(size_t(N * D));
        be->to_host(xn, size_t(N * D), hidden->data());
    }
    logits.resize(size_t(N * V));
    float* y = be->result(Slot::logits, logits.data(), size_t(N * V));
    be->matmul(weights_->output, xn, N, y);
    if (!weights_->output_bias.empty()) be->add_bias(y, weights_->output_bias, N, V);
    if (logit_softcap > 0) be->softcap(y, N * V, logit_softcap);
    if (!top) return be->to_host(y, size_t(N * V), logits.data());
    // Only the candidates leave the backend.
    top->ids.resize(size_t(N * top->k));
    top->logits.resize(size_t(N * top->k));
    be->top_k(y, N, V, top->k, top->ids.data(), top->logits.data());
}

}  // namespace slm
