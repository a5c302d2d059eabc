// Binding a LoraStack to a model (modules to layers and roles by the architecture's HF names,
// shape checks, llama.cpp's q/k row order for GGUF llama bases, fused modules split by rows of B)
// and the unmerged LoRA product of the forward, x -> s·(x Aᵀ) Bᵀ, in two small f32 GEMMs (rank r
// is tiny: the [T, r] intermediate costs nothing next to W).
#include "model/lora_apply.h"

#include <slm/error.h>
#include <slm/model.h>
#include <slm/train_ops.h>

#include <algorithm>
#include <map>
#include <utility>

#include "model/qk_row_order.h"

namespace slm {

namespace {

std::string shape(int64_t rows, int64_t cols) { return fmt::format("[{}, {}]", rows, cols); }

}  // namespace

LoraStack::LoraStack(const Model& model, std::vector<LoraUse> adapters)
    : adapters_(std::move(adapters)), model_(&model) {
    using model::kLoraRoles;
    using model::WeightRole;
    const ModelConfig& c = model.config();
    const int64_t D = c.hidden_size, F = c.intermediate_size;
    const int64_t q_dim = int64_t(c.num_heads) * c.head_dim, kv_dim = int64_t(c.num_kv_heads) * c.head_dim;
    // [out, in] of each role's weight, as ModelWeights binds them.
    const std::array<std::pair<int64_t, int64_t>, kLoraRoles.size()> shapes = {
        {{q_dim, D}, {kv_dim, D}, {kv_dim, D}, {D, q_dim}, {F, D}, {F, D}, {D, F}}};
    // A module's linear, or the linears a fused module feeds: Phi-3's qkv_proj (B's rows: q, k,
    // v) and gate_up_proj (gate, up) are split by rows of B into the parts' updates, A shared.
    struct Part {
        size_t slot;
        int64_t first_row, rows;
    };
    struct Site {
        int layer;
        int64_t out;              // rows of the module's weight (the parts' rows together)
        std::vector<Part> parts;  // one for a plain linear
    };
    const model::Architecture& arch = model::find_architecture(c.architecture, model.files().path);
    std::map<std::string, Site> sites;  // HF module path -> where it applies
    auto module_of = [&](WeightRole role, int l) {
        std::string name = model::tensor_name(arch, role, TensorNaming::hf, l);
        name.resize(name.size() - std::string_view(".weight").size());
        return name;
    };
    auto slot_of = [&](WeightRole role) { return size_t(std::find(kLoraRoles.begin(), kLoraRoles.end(), role) - kLoraRoles.begin()); };
    for (int l = 0; l < c.num_layers; ++l) {
        for (size_t s = 0; s < kLoraRoles.size(); ++s)
            sites.emplace(module_of(kLoraRoles[s], l), Site{l, shapes[s].first, {{s, 0, shapes[s].first}}});
        if (arch.fused_qkv)
            sites[module_of(WeightRole::attn_qkv, l)] =
                Site{l, q_dim + 2 * kv_dim,
                     {{slot_of(WeightRole::attn_q), 0, q_dim}, {slot_of(WeightRole::attn_k), q_dim, kv_dim},
                      {slot_of(WeightRole::attn_v), q_dim + kv_dim, kv_dim}}};
        if (arch.fused_gate_up)
            sites[module_of(WeightRole::ffn_gate_up, l)] =
                Site{l, 2 * F, {{slot_of(WeightRole::ffn_gate), 0, F}, {slot_of(WeightRole::ffn_up), F, F}}};
    }
    const bool permute_qk = model::qk_rows_permuted(model.files());

    auto bound = std::make_shared<model::BoundLoras>();
    bound->layers.resize(size_t(c.num_layers));
    for (const LoraUse& use : adapters_) {
        if (!use.adapter) fail("LoRA adapter '{}': no adapter given", use.name);
        std::vector<std::vector<bool>> seen(size_t(c.num_layers), std::vector<bool>(kLoraRoles.size()));
        for (const LoraModule& m : use.adapter->modules) {
            const auto it = sites.find(m.module);
            if (it == sites.end()) {
                if (m.module == "lm_head" || m.module.ends_with("embed_tokens"))
                    fail(
                        "LoRA adapter '{}': module '{}' is not applied at inference (only the q/k/v/o and "
                        "gate/up/down projections are)",
                        use.name, m.module);
                fail(
                    "LoRA adapter '{}': module '{}' is not a linear module of this {}-layer {} model (expected names "
                    "such as model.layers.0.self_attn.q_proj)",
                    use.name, m.module, c.num_layers, c.architecture);
            }
            const Site& site = it->second;
            const int layer = site.layer;
            const int64_t out = site.out, in = shapes[site.parts.front().slot].second;
            if (m.rank <= 0 || m.in_features != in || m.out_features != out ||
                m.a.size() != size_t(m.rank * m.in_features) || m.b.size() != size_t(m.out_features * m.rank))
                fail("LoRA adapter '{}': module '{}' has A {} and B {}, which do not fit the base model's weight {}",
                     use.name, m.module, shape(m.rank, m.in_features), shape(m.out_features, m.rank), shape(out, in));
            for (const Part& part : site.parts) {
                if (seen[size_t(layer)][part.slot]) fail("LoRA adapter '{}': module '{}' appears twice", use.name, m.module);
                seen[size_t(layer)][part.slot] = true;
            }
            const float scale = m.scale * use.scale;
            if (scale == 0.0f) continue;  // adds exactly nothing: skip the work
            for (const Part& part : site.parts) {
                model::BoundLora b{m.a.data(), m.b.data() + part.first_row * m.rank, m.rank, in, part.rows, scale};
                const WeightRole role = kLoraRoles[part.slot];
                if (permute_qk && (role == WeightRole::attn_q || role == WeightRole::attn_k)) {
                    bound->permuted_b.push_back(model::permute_head_rows(m.b, out, m.rank, c.head_dim, true));
                    b.b = bound->permuted_b.back().data();
                }
                bound->layers[size_t(layer)][part.slot].push_back(b);
            }
        }
    }
    bound_ = std::move(bound);
}

namespace model {

void add_lora(const BoundLoras* stack, int layer, WeightRole role, const float* x, int64_t T, float* y,
              ThreadPool* pool) {
    if (stack == nullptr) return;
    size_t slot = 0;
    while (kLoraRoles[slot] != role) ++slot;
    using kernels::Trans;
    std::vector<float> u;
    for (const BoundLora& lo : stack->layers[size_t(layer)][slot]) {
        // u: [T, r] = x Aᵀ;  y += s·u Bᵀ
        u.resize(size_t(T * lo.rank));
        kernels::sgemm(Trans::no, Trans::yes, T, lo.rank, lo.in, 1.0f, x, lo.in, lo.a, lo.in, 0.0f, u.data(), lo.rank,
                       pool);
        kernels::sgemm(Trans::no, Trans::yes, T, lo.out, lo.rank, lo.scale, u.data(), lo.rank, lo.b, lo.rank, 1.0f, y,
                       lo.out, pool);
    }
}

}  // namespace model
}  // namespace slm
