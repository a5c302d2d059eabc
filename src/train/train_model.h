// TrainModel: the one forward/backward pass of training over a TrainBatch, for every way a model
// learns: LoRA adapters beside a frozen base (any dtype, read in place in both directions; QLoRA
// is an NF4 base), every weight of a model held as f32 master weights (full fine-tuning, training
// from scratch, a distilled student), or nothing at all (a teacher's or an evaluation's forward).
// The forward mirrors Model::forward (src/model/model.cpp) layer by layer, but over whole packed
// sequences (no KV cache) and keeping what each op's backward reads; the backward walks the same
// ops in reverse (llm.c's way: explicit backward per op, no autograd).
#pragma once

#include <slm/lora_adapter.h>
#include <slm/model.h>
#include <slm/thread_pool.h>
#include <slm/train_ops.h>

#include "train/dataset.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace slm::train {

class ModelParameters;

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

// Distillation: the teacher's logits for each target row of the batch (labels >= 0, in token
// order), dense or as its top k (kernels::TeacherLogits). The loss of a row becomes
// (1 - alpha)·CE + alpha·temperature²·KL(teacher ‖ student) at that temperature.
struct TeacherTargets {
    kernels::TeacherLogits logits;
    float alpha = 0.5f, temperature = 2.0f;
};

struct PassOptions {
    float grad_scale = 1.0f;      // d(total loss)/d(sum of token losses): 1 / target tokens of the step
    float dropout = 0.0f;         // LoRA dropout on each adapter's input (PEFT's lora_dropout)
    uint64_t dropout_seed = 0;    // masks are a function of (seed, layer, module, element): resumable
    bool checkpointing = false;   // keep only each layer's input; recompute the rest in the backward
    const TeacherTargets* teacher = nullptr;  // distillation targets of this batch (null: cross-entropy)
};

// Loss of a pass: the summed objective of the target tokens (cross-entropy, or distillation's
// mix), its two terms (KL unscaled; 0 without a teacher), and the number of tokens.
struct PassLoss {
    double sum = 0;
    double ce = 0, kl = 0;
    int64_t tokens = 0;
    double mean() const { return tokens ? sum / double(tokens) : 0.0; }
};

class TrainModel {
public:
    // LoRA: `base` frozen, `adapter` trained. The adapter is in Hugging Face layout (PEFT's); for a
    // GGUF llama base, whose q/k rows llama.cpp permuted, B of q_proj/k_proj is permuted the same
    // way while training and back on adapter(). Throws if a module does not fit the model.
    TrainModel(const Model& base, const LoraAdapter& adapter);
    // Frozen: nothing trained (a distillation teacher's forward, evaluation).
    explicit TrainModel(const Model& base);
    // Full: every weight of `params` trained in place (they must outlive this model).
    explicit TrainModel(ModelParameters& params);
    ~TrainModel();

    // Forward and backward of one micro-batch: adds grad_scale * d(sum of losses)/d(parameters) to
    // the gradients, and returns the loss.
    PassLoss forward_backward(const TrainBatch& batch, const PassOptions& options, ThreadPool* pool);
    // Forward only (evaluation): the loss of the batch's targets. Only the dropout and teacher
    // fields of `options` count (the default: neither, as in evaluation).
    PassLoss evaluate(const TrainBatch& batch, ThreadPool* pool, const PassOptions& options = {});
    // Forward only: the logits of the batch's target rows (labels >= 0, in token order) into
    // `logits` ([rows, vocab]); returns the number of rows. What a teacher computes.
    int64_t target_logits(const TrainBatch& batch, std::vector<float>& logits, ThreadPool* pool);

    // Every trainable tensor with its gradient, in a fixed order (the optimizer's and the
    // checkpoint's).
    struct Parameter {
        std::string name;  // LoRA: PEFT's key (base_model.model.<module>.lora_A.weight); full: HF's
        float* value;
        float* grad;
        int64_t size;
        std::vector<int64_t> shape;
        // > 0: the tensor's rows are in llama.cpp's q/k order with this head size while training
        // (B of q_proj/k_proj over a GGUF llama base); files hold Hugging Face's order.
        int64_t permuted_head_dim = 0;
    };
    std::vector<Parameter> parameters();
    void zero_grad();

    // The adapter as trained so far, in Hugging Face layout (LoRA only).
    LoraAdapter adapter() const;
    const ModelConfig& config() const { return config_; }

private:
    struct Lora {
        LoraModule module;           // a, b in the base's row order
        std::vector<float> grad_a, grad_b;
        int64_t in = 0, out = 0, rank = 0;
    };
    // One linear module's weights as the pass reads them, and where their gradients go (null:
    // frozen, or absent for a bias).
    struct Linear {
        Tensor w;
        const float* bias = nullptr;
        float* grad_w = nullptr;
        float* grad_bias = nullptr;
    };
    struct Layer {
        std::array<Linear, kLinearRoles> linear;
        const float* attn_norm = nullptr;
        const float* ffn_norm = nullptr;
        float* grad_attn_norm = nullptr;
        float* grad_ffn_norm = nullptr;
    };
    struct Activations;    // what one layer's backward reads
    struct Context;
    // The residual streams and saved activations of a pass, kept from one pass to the next so that
    // a step reuses the memory of the last instead of mapping and faulting in fresh pages.
    struct Workspace;
    enum class Pass { train, evaluate, logits };

    void bind_base(const Model& base);
    void layer_forward(int l, const float* x_in, float* x_out, Activations& a, const Context& ctx) const;
    void layer_backward(int l, const float* x_in, float* dx, const Activations& a, bool input_grad,
                        const Context& ctx);
    PassLoss run(const TrainBatch& batch, const PassOptions& options, Pass pass, std::vector<float>* logits_out,
                 ThreadPool* pool);

    ModelConfig config_;
    kernels::RopeMode rope_mode_{};
    std::vector<float> rope_inv_freq_;
    float rope_mscale_ = 1.0f;
    std::vector<Layer> layers_;
    Tensor embedding_, output_;  // output_ is the embedding when tied
    const float* output_norm_ = nullptr;
    float* grad_embedding_ = nullptr;
    float* grad_output_ = nullptr;  // grad_embedding_ when tied
    float* grad_output_norm_ = nullptr;
    ModelParameters* full_ = nullptr;

    LoraAdapter config_adapter_;  // the adapter's config (modules moved into loras_)
    bool permuted_qk_ = false;
    std::vector<std::array<Lora*, kLinearRoles>> by_layer_;
    std::vector<std::unique_ptr<Lora>> loras_;
    std::unique_ptr<Workspace> work_;
};

}  // namespace slm::train
