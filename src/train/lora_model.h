// LoraModel: a frozen base Model with trainable LoRA updates beside chosen linear modules, and
// the one forward/backward pass over a TrainBatch that fine-tuning needs. The forward mirrors
// Model::forward (src/model/model.cpp) layer by layer, but over whole packed sequences (no KV
// cache) and keeping what each op's backward reads; the backward walks the same ops in reverse
// (llm.c's way: explicit backward per op, no autograd). The base weights stay as they are in the
// file (any dtype, read in place in both directions); only the adapters' A and B get gradients.
#pragma once

#include <slm/lora_adapter.h>
#include <slm/model.h>
#include <slm/thread_pool.h>

#include "train/dataset.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace slm::train {

// The linear modules of a Llama-family layer, by their Hugging Face names.
enum class LinearRole { q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj };
constexpr int kLinearRoles = 7;
const char* linear_name(LinearRole role);
// "model.layers.3.self_attn.q_proj", as PEFT names modules.
std::string module_path(LinearRole role, int layer);
// Parses a --target list ("q_proj,v_proj" or "all-linear") into roles; an unknown name is an
// error listing the model's linear modules.
std::vector<LinearRole> parse_targets(const std::string& list);

// A fresh adapter as PEFT initializes one (A uniform in ±1/sqrt(in), Kaiming-uniform with
// a = sqrt(5); B zero), seeded, over the given roles of every layer.
LoraAdapter init_adapter(const ModelConfig& config, const std::vector<LinearRole>& targets, const LoraConfig& lora,
                         uint64_t seed);

struct PassOptions {
    float grad_scale = 1.0f;      // d(total loss)/d(sum of token losses): 1 / target tokens of the step
    float dropout = 0.0f;         // LoRA dropout on each adapter's input (PEFT's lora_dropout)
    uint64_t dropout_seed = 0;    // masks are a function of (seed, layer, module, element): resumable
    bool checkpointing = false;   // keep only each layer's input; recompute the rest in the backward
};

// Loss of a pass: the summed cross-entropy of the target tokens and their number.
struct PassLoss {
    double sum = 0;
    int64_t tokens = 0;
    double mean() const { return tokens ? sum / double(tokens) : 0.0; }
};

class LoraModel {
public:
    // `adapter` is in Hugging Face layout (PEFT's); for a GGUF llama base, whose q/k rows
    // llama.cpp permuted, B of q_proj/k_proj is permuted the same way while training and back on
    // adapter(). Throws if a module does not fit the model.
    LoraModel(const Model& base, const LoraAdapter& adapter);
    ~LoraModel();

    // Forward and backward of one micro-batch: adds grad_scale * d(sum of losses)/d(A, B) to the
    // gradients, and returns the loss.
    PassLoss forward_backward(const TrainBatch& batch, const PassOptions& options, ThreadPool* pool);
    // Forward only (evaluation): the loss of the batch's targets. Only the dropout fields of
    // `options` count (the default: none, as in evaluation).
    PassLoss evaluate(const TrainBatch& batch, ThreadPool* pool, const PassOptions& options = {});

    // Every trainable tensor with its gradient, in a fixed order (the optimizer's and the
    // checkpoint's).
    struct Parameter {
        std::string name;  // PEFT's key: base_model.model.<module>.lora_A.weight
        float* value;
        float* grad;
        int64_t size;
    };
    std::vector<Parameter> parameters();
    void zero_grad();

    // The adapter as trained so far, in Hugging Face layout.
    LoraAdapter adapter() const;
    const Model& base() const { return base_; }

private:
    struct Lora {
        LoraModule module;           // a, b in the base's row order
        std::vector<float> grad_a, grad_b;
        int64_t in = 0, out = 0, rank = 0;
    };
    struct Activations;    // what one layer's backward reads
    struct Context;
    // The residual streams and saved activations of a pass, kept from one pass to the next so that
    // a step reuses the memory of the last instead of mapping and faulting in fresh pages.
    struct Workspace;

    void layer_forward(int l, const float* x_in, float* x_out, Activations& a, const Context& ctx) const;
    void layer_backward(int l, const float* x_in, float* dx, const Activations& a, bool input_grad,
                        const Context& ctx);
    PassLoss run(const TrainBatch& batch, const PassOptions& options, bool backward, ThreadPool* pool);

    const Model& base_;
    LoraAdapter config_;  // the adapter's config (modules moved into loras_)
    bool permuted_qk_ = false;
    std::vector<std::array<Lora*, kLinearRoles>> by_layer_;
    std::vector<std::unique_ptr<Lora>> loras_;
    std::unique_ptr<Workspace> work_;
};

}  // namespace slm::train
