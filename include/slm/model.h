// Model: a decoder-only transformer (the Llama family: Llama 2/3, Mistral, Qwen2, SmolLM,
// TinyLlama; and Gemma, Gemma 2, Gemma 3, Phi-2, Phi-3) bound by role to the weights of an HF
// directory or a GGUF file (zero-copy views), and its forward pass over a Batch of (token,
// position, sequence) entries that reads and extends a KvCache.
#pragma once

#include <slm/kernels.h>
#include <slm/lora_stack.h>
#include <slm/model_config.h>
#include <slm/tensor.h>
#include <slm/thread_pool.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slm {

// The tokens one forward processes. Entries of one sequence must be at consecutive positions
// that continue that sequence's cache; several sequences may share a batch (the server's
// continuous batching). `want_logits` marks the entries whose next-token logits are returned.
struct Batch {
    std::vector<int32_t> tokens, positions, seq_ids;
    std::vector<uint8_t> want_logits;

    void add(int32_t token, int32_t position, int32_t seq_id, bool logits);
    void clear();
    size_t size() const { return tokens.size(); }
    size_t n_logits() const;
};

// The k most likely next tokens of each entry with want_logits (a sampler's candidates), as
// Model::forward_top returns them: ids and logits [rows, k], most likely first, ties to the lower id.
struct TopTokens {
    int k = 0;
    std::vector<int32_t> ids;
    std::vector<float> logits;
    size_t rows() const { return k > 0 ? ids.size() / size_t(k) : 0; }
    std::span<const int32_t> row_ids(size_t r) const { return {ids.data() + r * size_t(k), size_t(k)}; }
    std::span<const float> row_logits(size_t r) const { return {logits.data() + r * size_t(k), size_t(k)}; }
};
// The most candidates forward_top finds a row: a sampler wanting more reads the whole row.
constexpr int kMaxTopTokens = 128;

// Keys and values of every layer for up to `n_seq` sequences of up to `n_ctx` positions each.
// Position p of a sequence lives in slot p, so a sequence's cache is one contiguous
// [n_ctx, Hkv, Dh] block per layer (what kernels::attention reads). The blocks of layers
// [0, device_layers) live in the memory of `device`, the rest in the host's (-1: every layer on
// `device`); each layer's must be where the model runs that layer (Model::gpu_layers()).
class Model;
class KvCache {
public:
    KvCache(const ModelConfig& config, int n_ctx, int n_seq = 1, DType dtype = DType::f16, Device device = Device::cpu,
            int device_layers = -1);
    // A cache laid out as `model` runs: each layer's blocks on the device that runs the layer.
    KvCache(const Model& model, int n_ctx, int n_seq, DType dtype);

    int n_ctx() const { return n_ctx_; }
    int n_seq() const { return int(lengths_.size()); }
    DType dtype() const { return dtype_; }
    // Where layer `layer`'s blocks are, and how many layers from the first are on the device.
    Device device(int layer) const { return layer < device_layers_ ? device_ : Device::cpu; }
    int device_layers() const { return device_ == Device::cpu ? 0 : device_layers_; }
    size_t bytes() const { return 2 * slot_bytes_ * size_t(n_ctx_) * size_t(n_seq()) * size_t(n_layers_); }

    // Positions 0..length-1 of the sequence hold valid entries.
    int length(int seq) const;
    // Forgets positions >= length (keeps a common prefix; 0 clears the sequence).
    void truncate(int seq, int length);
    // Makes `dst` hold the first `length` positions of `src` (a shared prompt prefix).
    void copy_prefix(int src, int dst, int length);

    // The [n_ctx, Hkv, Dh] block of a layer and sequence, and the slot of one position in it.
    uint8_t* keys(int layer, int seq);
    uint8_t* values(int layer, int seq);
    size_t slot_bytes() const { return slot_bytes_; }
    // Marks positions up to `end` (exclusive) of the sequence as written.
    void extend(int seq, int end);

private:
    size_t block_offset(int layer, int seq) const;
    void check_seq(int seq) const;
    int n_ctx_, n_layers_, device_layers_;
    DType dtype_;
    Device device_;
    size_t slot_bytes_;
    // Keys and values of the device's layers, then of the host's.
    std::shared_ptr<uint8_t> device_k_, device_v_, host_k_, host_v_;
    std::vector<int> lengths_;
};

class ModelWeights;  // src/model/model_weights.h
namespace model {
struct Architecture;   // src/model/architecture.h
class Backend;         // src/model/backend.h
enum class Activation : uint8_t;
}

struct ModelOptions {
    // Copies the matrices matmul reads (all but an untied embedding table) into the layout this
    // CPU's matmul reads fastest, where it has one (kernels::interleave_for_matmul: q4_0, q5_0,
    // q8_0, q4_k, q6_k on AVX2; decode 1.1-1.7x faster), and lets the file's pages of them go.
    // Off: every weight stays a view of the file.
    bool cpu_layouts = true;
    // QLoRA: the float matrices of the layers (q/k/v/o, gate/up/down; not the embedding or the
    // output head, as bitsandbytes leaves them) quantized to NF4 at load, with double
    // quantization exactly as bitsandbytes' quantize_4bit does; already quantized ones stay.
    bool nf4_matrices = false;
    // Where the forward runs: the CPU, or the GPU (a build with SLM_CUDA), which then holds a copy
    // of every weight in the file's layout (cpu_layouts does not apply) and the KV caches.
    Device device = Device::cpu;
    // On the GPU: how many layers, from the first, run there (the embedding lookup with them);
    // the rest, the final norm and the vocabulary projection run on the CPU, which then holds
    // their weights and KV caches (llama.cpp's -ngl, for a model larger than the card). -1, or
    // any count of at least the model's layers: the whole forward on the GPU; 0: the CPU alone.
    int gpu_layers = -1;
};

// "cpu", "cuda", or "auto" (the GPU when this build has CUDA and one is present, else the CPU);
// anything else is an slm::Error naming the choices.
Device device_from_name(const std::string& name);
const char* device_name(Device device);

class Model {
public:
    // Opens `path` (HF directory or GGUF file) with ModelFiles::open and binds the weights.
    static std::unique_ptr<Model> load(const std::string& path, const ModelOptions& options = {});
    // Binds the weights of files already open; throws slm::Error naming any missing or
    // mis-shaped tensor, or an architecture (or a feature of one) that slm does not run.
    explicit Model(ModelFiles files, const ModelOptions& options = {});
    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    const ModelConfig& config() const { return files_.config; }
    const ModelFiles& files() const { return files_; }
    // Where the forward runs (ModelOptions::device; the CPU when no layer runs on the GPU), and
    // how many of the layers, from the first, run on the GPU (all of them, or 0 on the CPU);
    // KV caches must be laid out alike (KvCache(const Model&, ...)).
    Device device() const;
    int gpu_layers() const { return gpu_layers_; }
    int vocab_size() const { return files_.config.vocab_size; }

    // Rotary embedding as bound: pairing of dimensions, per-pair inverse frequencies (scaling
    // folded in) and the cos/sin multiplier (yarn's attention factor; 1 otherwise).
    kernels::RopeMode rope_mode() const { return rope_mode_; }
    const std::vector<float>& rope_inv_freq() const { return rope_inv_freq_; }
    float rope_mscale() const { return rope_mscale_; }
    // longrope: the frequencies a KV cache of more than rope_long_context() positions uses
    // (RopeFrequencies); empty for every other rope.
    const std::vector<float>& rope_long_inv_freq() const { return rope_long_inv_freq_; }
    int rope_long_context() const { return rope_long_context_; }
    // Gemma 3: the frequencies of the sliding-window layers (their own base, unscaled); empty
    // when every layer shares rope_inv_freq().
    const std::vector<float>& rope_local_inv_freq() const { return rope_local_inv_freq_; }
    // The dimensions of each head that rope turns (head_dim unless partial, as Phi-2's).
    int rope_dim() const { return rope_dim_; }
    // The attention window of layer `l` (0: the layer attends to the whole context).
    int layer_window(int l) const { return layer_window_[size_t(l)]; }
    // The weights bound by role (src/model/model_weights.h): what training reads in place.
    const ModelWeights& weights() const { return *weights_; }

    // Runs the batch: writes keys/values of every entry into `cache` and returns, in `logits`,
    // one row of vocab_size() floats per entry with want_logits set, in batch order. `hidden`,
    // when given, receives those entries' final hidden states (after the output norm), [N, D]
    // (the server's embeddings). `adapters`, when given and not empty, must be bound to this model;
    // its LoRA updates are added to every entry of the batch (a caller mixing requests with
    // different adapters runs one forward per stack). The cache then holds the adapted model's
    // keys and values: a sequence must keep the same stack for as long as its cache is reused.
    void forward(const Batch& batch, KvCache& cache, std::vector<float>& logits, ThreadPool* pool,
                 std::vector<float>* hidden = nullptr, const LoraStack* adapters = nullptr) const;
    // forward, returning only each wanted row's k most likely tokens (1 <= k <= kMaxTopTokens; a k
    // over the vocabulary size takes all of it): what greedy decoding (k = 1) and a sampler that
    // opens with top-k read. They are found where the forward runs: from a GPU, k ids and logits a
    // row cross to the host instead of the vocabulary's logits.
    void forward_top(const Batch& batch, KvCache& cache, int k, TopTokens& top, ThreadPool* pool,
                     const LoraStack* adapters = nullptr) const;

private:
    // The forward of both: the wanted rows' logits into `logits`, or (top given) their top->k most
    // likely tokens, `logits` then only the CPU's scratch.
    void run(const Batch& batch, KvCache& cache, std::vector<float>& logits, TopTokens* top, ThreadPool* pool,
             std::vector<float>* hidden, const LoraStack* adapters) const;
    ModelFiles files_;
    const model::Architecture* arch_ = nullptr;  // the row whose columns the forward reads
    std::unique_ptr<ModelWeights> weights_;
    kernels::RopeMode rope_mode_;
    int rope_dim_ = 0;
    std::vector<float> rope_local_inv_freq_;
    std::vector<float> rope_inv_freq_;
    float rope_mscale_ = 1.0f;
    std::vector<float> rope_long_inv_freq_;
    int rope_long_context_ = 0;
    std::vector<int> layer_window_;   // per layer: the config's sliding_window or 0
    float attn_scale_ = 1.0f;         // 1/√head_dim, or query_pre_attn_scalar^(-1/2) (Gemma 2)
    float embedding_scale_ = 1.0f;    // √hidden_size where the architecture scales embeddings (Gemma)
    // act(gate) * up of the gated MLP (silu: SwiGLU; gelu_tanh or gelu: GeGLU), or act(x) of a
    // plain one (Phi-2's gelu_new between fc1 and fc2).
    model::Activation activation_{};
    Device device_ = Device::cpu;
    int gpu_layers_ = 0;
    std::unique_ptr<model::Backend> gpu_;  // the GPU's ops and weights of its layers (gpu_layers_ > 0)
};

// The dimensions of each head that rope turns: head_dim, or int(head_dim · partial_rotary_factor)
// as transformers takes it (Phi-2: half of them).
int rotary_dim(const ModelConfig& config);

// The rotary inverse frequencies (length rotary_dim / 2) and cos/sin multiplier that the config's
// rope_theta and rope_scaling (default, linear, dynamic below its threshold, llama3, yarn,
// longrope) give, as transformers computes them.
struct RopeFrequencies {
    std::vector<float> inv_freq;
    float mscale = 1.0f;
    // longrope (Phi-3): the frequencies of contexts longer than `long_context` positions; empty
    // otherwise. As llama.cpp does, a KV cache of more positions uses them throughout, so every
    // cached key was rotated alike (transformers switches per call, on the positions it sees).
    std::vector<float> long_inv_freq;
    int long_context = 0;
};
RopeFrequencies rope_frequencies(const ModelConfig& config);

}  // namespace slm
