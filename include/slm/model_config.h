// ModelConfig: one struct for every architecture's hyperparameters, whatever the source
// (config.json in transformers 4 or 5 form, or GGUF metadata). GenerationDefaults come from
// generation_config.json (or are empty). ModelFiles opens a model path of any supported form.
#pragma once

#include <slm/tensor_source.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace slm {

class GgufFile;

struct RopeScaling {
    std::string type = "default";  // default | linear | dynamic | llama3 | yarn | longrope
    double factor = 1.0;           // longrope: 0 when absent (then max_position / original_max_position)
    double low_freq_factor = 1.0;         // llama3
    double high_freq_factor = 4.0;        // llama3
    int original_max_position = 0;        // llama3, yarn
    double attention_factor = 0.0;        // yarn, longrope: the cos/sin scale (0: derived from factor)
    double beta_fast = 32.0, beta_slow = 1.0;  // yarn
    // longrope (Phi-3): per-pair divisors of the base frequencies, the short ones within
    // original_max_position and the long ones past it; each of length head_dim / 2.
    std::vector<double> short_factor, long_factor;
};

struct ModelConfig {
    std::string architecture;   // HF model_type / GGUF general.architecture: llama, mistral, qwen2, …
    int vocab_size = 0;
    int hidden_size = 0;
    int intermediate_size = 0;
    int num_layers = 0;
    int num_heads = 0;
    int num_kv_heads = 0;
    int head_dim = 0;           // hidden_size / num_heads unless the config says otherwise
    int max_position = 0;       // context length the model was trained for
    double rms_norm_eps = 1e-5;
    double rope_theta = 10000.0;
    RopeScaling rope_scaling;
    // Gemma 3: the rope base of the sliding-window layers, which take no scaling (rope_scaling is
    // the global layers'); 0 when the config names none (the architecture's default applies).
    double rope_local_theta = 0;
    bool tie_word_embeddings = false;
    bool attention_bias = false;  // q/k/v projections have a bias (qwen2)
    int sliding_window = 0;       // 0: full attention
    // Per layer "sliding_attention" or "full_attention" (transformers 5's layer_types); empty when
    // the config has none, and then the architecture's pattern decides (model/architecture.h).
    std::vector<std::string> layer_types;
    std::string hidden_act = "silu";  // silu, gelu_pytorch_tanh, gelu, …
    double query_pre_attn_scalar = 0;    // attention scale is its -1/2 power (Gemma 2); 0: head_dim
    double attn_logit_softcapping = 0;   // scores become c * tanh(scores / c) (Gemma 2); 0: off
    double final_logit_softcapping = 0;  // the same on the output logits; 0: off
    double partial_rotary_factor = 1.0;  // fraction of each head's dimensions that rope rotates
    int bos_token_id = -1;
    std::vector<int> eos_token_ids;
    std::string torch_dtype;      // dtype the weights were saved in, when the config says
};

struct GenerationDefaults {
    std::optional<bool> do_sample;
    std::optional<double> temperature, top_p, min_p, typical_p, repetition_penalty;
    std::optional<int> top_k, max_new_tokens, max_length;
    std::vector<int> eos_token_ids;
};

// The facts of tokenizer_config.json (or of GGUF tokenizer.ggml.* keys) that loading and chat
// need. Special tokens may be written as strings or as {"content": …} objects; both are read.
struct TokenizerConfig {
    std::string tokenizer_class;
    std::optional<std::string> bos_token, eos_token, unk_token, pad_token;
    std::optional<bool> add_bos_token, add_eos_token;
    std::string chat_template;  // the default template ("default" of the list form), empty when none
    // Every template of the list form ([{"name": …, "template": …}]), e.g. "tool_use"; empty for
    // the single-string form.
    std::vector<std::pair<std::string, std::string>> named_chat_templates;
};

// Where a model's pieces come from. `naming` tells the tensor-name table to use.
enum class TensorNaming { hf, gguf };

struct ModelFiles {
    std::string path;                 // what the user named: an HF directory or a .gguf file
    ModelConfig config;
    GenerationDefaults generation;
    std::unique_ptr<TensorSource> tensors;
    TensorNaming naming = TensorNaming::hf;
    const GgufFile* gguf = nullptr;   // set when the model is a GGUF file (owned by `tensors`)
    std::string tokenizer_json;       // path of tokenizer.json, empty when absent
    std::string tokenizer_config_json;  // path of tokenizer_config.json, empty when absent
    std::string chat_template;        // the model's own template, empty when it has none
    TokenizerConfig tokenizer_config; // from tokenizer_config.json, or the GGUF tokenizer keys
    int64_t file_bytes = 0;           // total size of the weight files

    // Opens a GGUF file, a safetensors file, or an HF directory (config.json + *.safetensors,
    // sharded or not); throws slm::Error naming the missing or malformed file or field.
    static ModelFiles open(const std::string& path);
};

// Parsers, exposed for tests and fuzzing. `source` names the file in errors.
ModelConfig parse_hf_config(const std::string& json_text, const std::string& source);
GenerationDefaults parse_generation_config(const std::string& json_text, const std::string& source);
TokenizerConfig parse_tokenizer_config(const std::string& json_text, const std::string& source);
ModelConfig config_from_gguf(const GgufFile& gguf);
// Special-token strings, add_bos/eos and chat templates from a GGUF's tokenizer.* keys.
TokenizerConfig tokenizer_config_from_gguf(const GgufFile& gguf);

}  // namespace slm
