// llama.cpp's LoRA adapter GGUF: a LoraAdapter in HF module names <-> tensors named after the base
// model's GGUF weights (blk.0.attn_q.weight.lora_a / .lora_b) with adapter.lora.alpha, as
// llama.cpp's convert_lora_to_gguf.py writes them and src/llama-adapter.cpp reads them.
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/lora_gguf.h>

#include "model/architecture.h"
#include "model/qk_row_order.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>

namespace slm {
namespace {

using model::WeightRole;

constexpr std::string_view kSuffixA = ".lora_a", kSuffixB = ".lora_b";

// One linear weight of the base model that an adapter may update.
struct LinearWeight {
    WeightRole role;
    std::string module;  // HF module path: the HF tensor name without ".weight"
    std::string gguf;    // GGUF tensor name: "blk.0.attn_q.weight"
    int64_t in = 0, out = 0;
    int permute_heads = 0;  // > 0: lora_b rows are permuted over this many heads in GGUF
};

struct BaseLayout {
    std::string gguf_arch;
    std::vector<LinearWeight> weights;
    const LinearWeight* by_module(const std::string& m) const {
        for (const LinearWeight& w : weights)
            if (w.module == m) return &w;
        return nullptr;
    }
    const LinearWeight* by_gguf(const std::string& g) const {
        for (const LinearWeight& w : weights)
            if (w.gguf == g) return &w;
        return nullptr;
    }
};

std::string strip_weight(const std::string& name) {
    constexpr std::string_view suffix = ".weight";
    return name.ends_with(suffix) ? name.substr(0, name.size() - suffix.size()) : name;
}

// The linear weights of a Llama-family model of config `c`, in both namings, with their shapes.
BaseLayout base_layout(const ModelConfig& c, const std::string& source) {
    const model::Architecture& arch = model::find_architecture(c.architecture, source);
    if (!model::is_llama_forward(arch, c))
        fail("{}: GGUF LoRA files are written for the Llama family (llama, mistral, qwen2); {} is not supported yet",
             source, c.architecture);
    BaseLayout layout;
    // llama.cpp runs Mistral as llama (slm convert writes it so): the adapter must say the same.
    layout.gguf_arch = c.architecture == "mistral" ? "llama" : std::string(arch.name);
    // llama.cpp's converter permutes llama's q/k rows (for its adjacent-pair rope); the same
    // permutation applies to lora_b, whose rows are the weight's output rows (lora_a, over the
    // input, is unchanged): convert_lora_to_gguf.py's LoraTorchTensor.permute moves only B.
    const bool permuted = arch.gguf_rope != arch.hf_rope;
    const int64_t D = c.hidden_size, F = c.intermediate_size;
    const int64_t q_dim = int64_t(c.num_heads) * c.head_dim, kv_dim = int64_t(c.num_kv_heads) * c.head_dim;
    auto add = [&](WeightRole role, int layer, int64_t in, int64_t out, int heads) {
        layout.weights.push_back({role, strip_weight(model::tensor_name(role, TensorNaming::hf, layer)),
                                  model::tensor_name(role, TensorNaming::gguf, layer), in, out,
                                  permuted ? heads : 0});
    };
    for (int l = 0; l < c.num_layers; ++l) {
        add(WeightRole::attn_q, l, D, q_dim, c.num_heads);
        add(WeightRole::attn_k, l, D, kv_dim, c.num_kv_heads);
        add(WeightRole::attn_v, l, D, kv_dim, 0);
        add(WeightRole::attn_o, l, q_dim, D, 0);
        add(WeightRole::ffn_gate, l, D, F, 0);
        add(WeightRole::ffn_up, l, D, F, 0);
        add(WeightRole::ffn_down, l, F, D, 0);
    }
    // A tied model has no output.weight in GGUF (token_embd serves), so lm_head cannot be adapted.
    if (!c.tie_word_embeddings) add(WeightRole::output, 0, D, c.vocab_size, 0);
    return layout;
}

// The alpha that llama.cpp (scale = alpha / rank) should apply: the one that makes the most
// modules' scale exact, so that only the others need a fold into lora_b. Zero is never chosen:
// llama.cpp reads alpha 0 as "no alpha" (scale 1).
float choose_alpha(const LoraAdapter& adapter) {
    std::vector<std::pair<float, int>> counts;  // alpha, modules it serves; in module order
    for (const LoraModule& m : adapter.modules) {
        const float alpha = m.scale * float(m.rank);
        if (alpha == 0.0f) continue;
        auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == alpha; });
        if (it == counts.end())
            counts.push_back({alpha, 1});
        else
            ++it->second;
    }
    if (counts.empty()) return 1.0f;  // every scale is 0: each lora_b is folded to zero
    return std::max_element(counts.begin(), counts.end(), [](const auto& x, const auto& y) { return x.second < y.second; })
        ->first;
}

uint32_t file_type_of(DType t) {
    switch (t) {
        case DType::f32: return 0;   // LLAMA_FTYPE_ALL_F32
        case DType::f16: return 1;   // LLAMA_FTYPE_MOSTLY_F16
        case DType::bf16: return 32; // LLAMA_FTYPE_MOSTLY_BF16
        default: fail("GGUF LoRA: tensor type {} is not supported (f32, f16 or bf16)", name(t));
    }
}

std::vector<float> read_floats(const GgufFile& file, const GgufTensorInfo& info) {
    const DTypeTraits& t = traits(info.dtype);
    if (!t.to_float) fail("{}: tensor '{}' has type {}, which cannot be read as numbers", file.path(), info.name, t.name);
    const Tensor view = *file.find_tensor(info.name);
    std::vector<float> out(size_t(view.numel()));
    t.to_float(view.data, out.data(), view.numel());
    return out;
}

// The commonest value (the first among equals), for the config's r.
int commonest(const std::vector<int>& values) {
    int best = values.front(), best_count = 0;
    for (int v : values) {
        const int n = int(std::count(values.begin(), values.end(), v));
        if (n > best_count) {
            best = v;
            best_count = n;
        }
    }
    return best;
}

}  // namespace

void write_gguf_lora(const LoraAdapter& adapter, const ModelConfig& base, const std::string& path, DType type) {
    const BaseLayout layout = base_layout(base, path);
    if (adapter.modules.empty()) fail("{}: the adapter has no modules to write", path);
    const uint32_t file_type = file_type_of(type);
    const float alpha = choose_alpha(adapter);

    GgufWriter writer;
    // llama-adapter.cpp checks general.type, general.architecture (against the model's) and
    // adapter.type, then reads adapter.lora.alpha (f32).
    writer.set("general.architecture", GgufWriter::str(layout.gguf_arch));
    writer.set("general.type", GgufWriter::str("adapter"));
    if (!adapter.config.base_model_name_or_path.empty())
        writer.set("general.name", GgufWriter::str(adapter.config.base_model_name_or_path + " LoRA"));
    writer.set("adapter.type", GgufWriter::str("lora"));
    writer.set("adapter.lora.alpha", GgufWriter::f32(alpha));
    writer.set("general.file_type", GgufWriter::u32(file_type));
    writer.set("general.quantization_version", GgufWriter::u32(2));

    std::vector<OwnedTensor> data;  // alive until the write
    data.reserve(adapter.modules.size() * 2);
    std::vector<std::string> seen;
    auto add = [&](const std::string& name, const std::vector<float>& values, int64_t rows, int64_t cols) {
        OwnedTensor t = OwnedTensor::zeros(type, {rows, cols});
        traits(type).from_float(values.data(), t.buffer.data(), rows * cols);
        writer.add_tensor(name, type, {rows, cols}, t.buffer.data());
        data.push_back(std::move(t));
    };
    for (const LoraModule& m : adapter.modules) {
        const LinearWeight* w = layout.by_module(m.module);
        if (!w) {
            if (m.module == "lm_head" && base.tie_word_embeddings)
                fail("{}: module 'lm_head' is tied to the token embedding in this model, which has no output "
                     "weight in GGUF for llama.cpp to adapt",
                     path);
            fail("{}: module '{}' is not a linear weight of this {}-layer {} model (expected names such as {})", path,
                 m.module, base.num_layers, base.architecture, layout.weights.front().module);
        }
        if (std::find(seen.begin(), seen.end(), m.module) != seen.end())
            fail("{}: module '{}' appears twice", path, m.module);
        seen.push_back(m.module);
        if (m.in_features != w->in || m.out_features != w->out || m.rank <= 0 ||
            m.a.size() != size_t(m.rank * w->in) || m.b.size() != size_t(w->out * m.rank))
            fail("{}: module '{}': A {}x{} and B {}x{} do not fit the model's {}x{} weight", path, m.module, m.rank,
                 m.in_features, m.out_features, m.rank, w->out, w->in);

        // llama.cpp scales every module by alpha / rank (llama_adapter_lora_weight::get_scale,
        // rank = lora_b's ne[0]); it knows neither rsLoRA nor PEFT's per-module alpha_pattern.
        // Where our scale differs, the ratio goes into lora_b, so scale·B·A is unchanged.
        // A ratio within float rounding of 1 (alpha = scale·rank, divided back) is left alone.
        std::vector<float> b = m.b;
        const float fold = m.scale / (alpha / float(m.rank));
        if (std::abs(fold - 1.0f) > 1e-6f)
            for (float& v : b) v *= fold;
        if (w->permute_heads > 0) b = model::permute_head_rows(b, w->out, m.rank, w->out / w->permute_heads, true);
        // ggml ne: lora_a [in, r], lora_b [r, out]; row-major [r, in] and [out, r] as in PEFT.
        add(w->gguf + std::string(kSuffixA), m.a, m.rank, w->in);
        add(w->gguf + std::string(kSuffixB), b, w->out, m.rank);
    }
    writer.write(path);
}

LoraAdapter load_gguf_lora(const std::string& path, const ModelConfig& base) {
    const BaseLayout layout = base_layout(base, path);
    const auto file = GgufFile::open(path);
    const auto general_type = file->get_string("general.type");
    if (general_type != "adapter")
        fail("{}: general.type is '{}', expected 'adapter' (is this a model rather than a LoRA adapter?)", path,
             general_type.value_or(""));
    const auto adapter_type = file->get_string("adapter.type");
    if (adapter_type != "lora")
        fail("{}: adapter.type is '{}'; only 'lora' adapters are supported", path, adapter_type.value_or(""));
    const auto arch = file->get_string("general.architecture");
    if (arch != layout.gguf_arch)
        fail("{}: general.architecture is '{}' but the base model is '{}'", path, arch.value_or(""), layout.gguf_arch);
    // llama.cpp: a missing alpha reads as 0, and alpha 0 means scale 1 whatever the rank.
    const float alpha = float(file->get_float("adapter.lora.alpha").value_or(0.0));

    struct Pair {
        const GgufTensorInfo* a = nullptr;
        const GgufTensorInfo* b = nullptr;
    };
    std::map<std::string, Pair> pairs;
    for (const GgufTensorInfo& info : file->tensor_infos()) {
        const bool is_a = info.name.ends_with(kSuffixA), is_b = info.name.ends_with(kSuffixB);
        if (!is_a && !is_b) {
            // llama.cpp skips norm vectors (mergekit adds them) and runs without them; slm refuses
            // rather than compute something other than what the adapter's author meant.
            if (info.name.ends_with("_norm.weight"))
                fail("{}: tensor '{}' replaces a norm weight, which slm's LoRA does not support", path, info.name);
            fail("{}: tensor '{}' is neither a .lora_a nor a .lora_b tensor", path, info.name);
        }
        (is_a ? pairs[info.name.substr(0, info.name.size() - kSuffixA.size())].a
              : pairs[info.name.substr(0, info.name.size() - kSuffixB.size())].b) = &info;
    }
    if (pairs.empty()) fail("{}: the adapter holds no LoRA tensors", path);

    LoraAdapter adapter;
    std::vector<int> ranks;
    for (const auto& [gguf, pair] : pairs) {
        if (!pair.a || !pair.b)
            fail("{}: '{}' has {} but no {}", path, gguf, pair.a ? "lora_a" : "lora_b", pair.a ? "lora_b" : "lora_a");
        const LinearWeight* w = layout.by_gguf(gguf);
        if (!w) {
            if (gguf == model::tensor_name(WeightRole::token_embedding, TensorNaming::gguf))
                fail("{}: '{}' is an embedding LoRA, which is not supported", path, gguf);
            fail("{}: '{}' is not a linear weight of this {}-layer {} model", path, gguf, base.num_layers,
                 base.architecture);
        }
        const GgufTensorInfo& a = *pair.a;
        const GgufTensorInfo& b = *pair.b;
        if (a.shape.size() != 2 || b.shape.size() != 2 || a.shape[1] != w->in || b.shape[0] != w->out ||
            a.shape[0] != b.shape[1] || a.shape[0] <= 0)
            fail("{}: '{}': lora_a {} and lora_b {} do not fit the model's [{}, {}] weight (expected [r, {}] and "
                 "[{}, r])",
                 path, gguf, shape_string(a.shape), shape_string(b.shape), w->out, w->in, w->in, w->out);
        LoraModule m;
        m.module = w->module;
        m.rank = a.shape[0];
        m.in_features = w->in;
        m.out_features = w->out;
        m.a = read_floats(*file, a);
        m.b = read_floats(*file, b);
        if (w->permute_heads > 0) m.b = model::permute_head_rows(m.b, w->out, m.rank, w->out / w->permute_heads, false);
        ranks.push_back(int(m.rank));
        adapter.modules.push_back(std::move(m));
    }

    // A PEFT config giving each module the rank and scale llama.cpp gives it: alpha / rank with
    // the file's alpha, or 1 when alpha is 0 (then lora_alpha = r, and alpha = rank elsewhere).
    LoraConfig& c = adapter.config;
    c.r = commonest(ranks);
    c.lora_alpha = alpha != 0.0f ? double(alpha) : double(c.r);
    for (LoraModule& m : adapter.modules) {
        if (m.rank != c.r) {
            // Keyed by the path less its first component ("layers.0.self_attn.k_proj"): PEFT before
            // 0.15 matched keys as `.*\.{key}$`, which needs a dot before the key.
            const size_t dot = m.module.find('.');
            const std::string key = dot == std::string::npos ? m.module : m.module.substr(dot + 1);
            c.rank_pattern[key] = int(m.rank);
            if (alpha == 0.0f) c.alpha_pattern[key] = double(m.rank);
        }
        const std::string short_name = m.module.substr(m.module.rfind('.') + 1);
        if (std::find(c.target_modules.begin(), c.target_modules.end(), short_name) == c.target_modules.end())
            c.target_modules.push_back(short_name);
    }
    for (LoraModule& m : adapter.modules) m.scale = c.scale_for(m.module);
    // Module order as in the base model (layer by layer), as load_peft gives for PEFT's names.
    std::sort(adapter.modules.begin(), adapter.modules.end(), [&](const LoraModule& x, const LoraModule& y) {
        return layout.by_module(x.module) < layout.by_module(y.module);
    });
    return adapter;
}

void convert_peft_to_gguf_lora(const std::string& base_path, const std::string& peft_dir, const std::string& out_path,
                               DType type) {
    const ModelFiles base = ModelFiles::open(base_path);
    write_gguf_lora(LoraAdapter::load_peft(peft_dir), base.config, out_path, type);
}

}  // namespace slm
