// The bound form of a LoraStack (slm/lora_stack.h) and the one operation the forward needs from
// it: after an adapted linear y = x Wᵀ, add each active adapter's s·(x Aᵀ) Bᵀ.
#pragma once

#include <slm/lora_stack.h>
#include <slm/thread_pool.h>

#include <array>
#include <cstdint>
#include <vector>

#include "model/architecture.h"

namespace slm::model {

// The linear roles an adapter may update, in the order of a layer's slots.
constexpr std::array kLoraRoles = {WeightRole::attn_q,   WeightRole::attn_k, WeightRole::attn_v,  WeightRole::attn_o,
                                   WeightRole::ffn_gate, WeightRole::ffn_up, WeightRole::ffn_down};

// One adapter module at one linear: y += scale·(x Aᵀ) Bᵀ.
struct BoundLora {
    const float* a = nullptr;  // [rank, in]
    const float* b = nullptr;  // [out, rank], rows in the base's order
    int64_t rank = 0, in = 0, out = 0;
    float scale = 0;  // PEFT's scale for the module times the adapter's user scale
};

struct BoundLoras {
    // layers[l][slot]: the adapters of linear kLoraRoles[slot] of layer l, in stack order.
    std::vector<std::array<std::vector<BoundLora>, kLoraRoles.size()>> layers;
    std::vector<std::vector<float>> permuted_b;  // the q/k B copies in GGUF row order, when made
};

// y: [T, out] += Σ over the stack's adapters of `role` in `layer`: scale·(x Aᵀ) Bᵀ, x: [T, in].
// Does nothing for a null stack or a linear no adapter touches.
void add_lora(const BoundLoras* stack, int layer, WeightRole role, const float* x, int64_t T, float* y,
              ThreadPool* pool);

}  // namespace slm::model
