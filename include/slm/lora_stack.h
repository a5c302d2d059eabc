// LoraStack: the LoRA adapters a forward applies, unmerged: each adapted linear computes
// y = x Wᵀ + Σ s·(x Aᵀ) Bᵀ over the stack, s being PEFT's scale for the module times the user's
// scale for the adapter (several adapters add up, as in llama.cpp). A stack is bound to one Model
// once: modules are matched to layers and roles, shapes are checked, and for a GGUF llama base
// (q/k rows permuted by llama.cpp's converter) the B of q_proj/k_proj is permuted here, not per
// forward. A bound stack is an immutable value, cheap to copy: one per session or per request.
#pragma once

#include <slm/lora_adapter.h>

#include <memory>
#include <string>
#include <vector>

namespace slm {

class Model;
namespace model {
struct BoundLoras;  // src/model/lora_apply.h
}

// One adapter of a stack.
struct LoraUse {
    std::shared_ptr<const LoraAdapter> adapter;
    float scale = 1.0f;  // multiplies every module's PEFT scale; 0 leaves the base model
    std::string name;    // where it came from, for errors
};

class LoraStack {
public:
    LoraStack() = default;  // no adapter: the base model
    // Throws slm::Error naming the adapter and the module when a module is not one of the q/k/v/o
    // or gate/up/down projections of `model` (an lm_head or embedding adapter is refused), when
    // its A/B shapes do not fit the weight, or when an adapter names a module twice.
    LoraStack(const Model& model, std::vector<LoraUse> adapters);

    bool empty() const { return bound_ == nullptr; }
    const Model* model() const { return model_; }
    const std::vector<LoraUse>& adapters() const { return adapters_; }
    // What Model::forward reads; null when empty.
    const model::BoundLoras* bound() const { return bound_.get(); }

private:
    std::vector<LoraUse> adapters_;
    const Model* model_ = nullptr;
    std::shared_ptr<const model::BoundLoras> bound_;
};

}  // namespace slm
