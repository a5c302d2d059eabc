// LoraAdapter: the low-rank updates of a LoRA fine-tune (W' = W + scale·B·A per linear module)
// with the PEFT settings that decide them, read from and written to a PEFT adapter directory
// (adapter_config.json + adapter_model.safetensors). Facts relied on: docs/adapters.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace slm {

// PEFT's LoraConfig fields that change what an adapter computes.
struct LoraConfig {
    int r = 8;
    double lora_alpha = 8;
    double lora_dropout = 0.0;
    // As PEFT writes them: short names ("q_proj") or full module paths; a module is targeted when
    // its path equals an entry or ends with "." + entry.
    std::vector<std::string> target_modules;
    // PEFT's other form of target_modules, a single string: a regular expression that must match a
    // whole module path. Empty when the list form is used (the two are exclusive).
    std::string target_modules_regex;
    bool use_rslora = false;                   // scale alpha/sqrt(r) instead of alpha/r
    // PEFT: each key is a regular expression matched against the module path as
    // `(.*\.)?(key)$`; the first matching key (here: in key order, as written by save_peft)
    // overrides r / lora_alpha for that module.
    std::map<std::string, int> rank_pattern;
    std::map<std::string, double> alpha_pattern;
    std::string base_model_name_or_path;
    std::string task_type = "CAUSAL_LM";

    // The rank and scale PEFT uses for a module path such as "model.layers.0.self_attn.q_proj".
    int rank_for(const std::string& module) const;
    float scale_for(const std::string& module) const;
};

// The low-rank update of one linear module: W' = W + scale * B·A.
struct LoraModule {
    std::string module;        // HF module path: "model.layers.0.self_attn.q_proj"
    int64_t rank = 0, in_features = 0, out_features = 0;
    float scale = 1.0f;
    std::vector<float> a;      // [rank, in_features]  (lora_A.weight)
    std::vector<float> b;      // [out_features, rank] (lora_B.weight)
};

struct LoraAdapter {
    LoraConfig config;
    std::vector<LoraModule> modules;  // loaded: in natural order of their paths (layer 2 before 10)

    // A PEFT directory (adapter_config.json + adapter_model.safetensors; the path of either file
    // is taken as its directory). A GGUF LoRA file needs the base model: load_gguf_lora
    // (slm/lora_gguf.h). Errors name the file and the field or tensor; PEFT options whose output
    // slm cannot reproduce (DoRA, biases, embedding LoRA, modules_to_save copies, …) are refused.
    static LoraAdapter load_peft(const std::string& dir);
    // Writes adapter_config.json and adapter_model.safetensors atomically (f32 tensors, PEFT's key
    // names), creating `dir` if needed. Every module's rank and scale must be those config gives it.
    void save_peft(const std::string& dir) const;
    const LoraModule* find(const std::string& module) const;
};

// adapter_config.json text -> LoraConfig, checking every option slm cannot honour; `source` names
// the file in errors. Exposed for tests and fuzzing.
LoraConfig parse_lora_config(const std::string& json_text, const std::string& source);
// The adapter_config.json that save_peft writes for `config` (PEFT's layout: sorted keys, indent 2).
std::string lora_config_json(const LoraConfig& config);

}  // namespace slm
