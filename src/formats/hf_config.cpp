// Hugging Face config files: config.json (transformers 4 and 5 forms, and the text part of a
// multimodal config) into ModelConfig, generation_config.json into GenerationDefaults,
// tokenizer_config.json into TokenizerConfig.
#include <slm/error.h>
#include <slm/model_config.h>

#include "formats/json_fields.h"

namespace slm {

using formats::JsonFields;
using nlohmann::json;

namespace {

// A required positive integer field, under its first present name.
int positive(const JsonFields& f, std::initializer_list<std::string_view> names) {
    for (std::string_view name : names) {
        if (const auto v = f.int32(name)) {
            if (*v <= 0) fail("{}: field '{}' must be positive, found {}", f.source(), name, *v);
            return *v;
        }
    }
    fail("{}: missing field '{}'", f.source(), *names.begin());
}

// A list of numbers (longrope's factors); empty when absent.
std::vector<double> number_list(const JsonFields& f, std::string_view key) {
    std::vector<double> out;
    const json* v = f.find(key);
    if (!v) return out;
    if (!v->is_array()) f.wrong_type(key, "a list of numbers");
    for (const json& e : *v) {
        if (!e.is_number()) f.wrong_type(key, "a list of numbers");
        out.push_back(e.get<double>());
    }
    return out;
}

// Rope settings. transformers 5 writes "rope_parameters" (rope_theta, rope_type and the scaling
// fields together; per layer type for some models); transformers 4 writes a top-level
// "rope_theta" and an optional "rope_scaling" object whose kind is "type" or "rope_type".
// Gemma 3's sliding layers have a rope of their own: rope_parameters.sliding_attention
// (transformers 5) or rope_local_base_freq (transformers 4).
void read_rope(const JsonFields& top, ModelConfig& c) {
    const json* params = top.object("rope_parameters");
    std::string params_name = "rope_parameters";
    c.rope_local_theta = top.number("rope_local_base_freq").value_or(0.0);
    if (params && !params->contains("rope_type") && !params->contains("rope_theta") && params->contains("full_attention")) {
        if (const auto local = params->find("sliding_attention"); local != params->end() && local->is_object())
            c.rope_local_theta = JsonFields(*local, top.source() + " rope_parameters.sliding_attention")
                                     .number("rope_theta")
                                     .value_or(c.rope_local_theta);
        params = &(*params)["full_attention"];
        params_name = "rope_parameters.full_attention";
    }
    if (params && !params->is_object()) fail("{}: field '{}' must be an object", top.source(), params_name);
    const json* scaling = params ? params : top.object("rope_scaling");
    const std::string scaling_source = top.source() + (params ? " " + params_name : std::string(" rope_scaling"));
    c.rope_theta = top.number("rope_theta").value_or(10000.0);
    if (!scaling) return;
    const JsonFields s(*scaling, scaling_source);
    if (const auto theta = s.number("rope_theta")) c.rope_theta = *theta;
    RopeScaling& r = c.rope_scaling;
    r.type = s.string("rope_type").value_or(s.string("type").value_or("default"));
    r.factor = s.number("factor").value_or(1.0);
    r.low_freq_factor = s.number("low_freq_factor").value_or(r.low_freq_factor);
    r.high_freq_factor = s.number("high_freq_factor").value_or(r.high_freq_factor);
    r.original_max_position = s.int32("original_max_position_embeddings")
                                  .value_or(top.int32("original_max_position_embeddings").value_or(0));
    r.attention_factor = s.number("attention_factor").value_or(0.0);
    r.beta_fast = s.number("beta_fast").value_or(r.beta_fast);
    r.beta_slow = s.number("beta_slow").value_or(r.beta_slow);
    // Phi-3's longrope was first named "su"; without a factor transformers takes the ratio of the
    // context lengths, which the rope code derives (factor 0 says "absent").
    if (r.type == "su") r.type = "longrope";
    if (r.type == "longrope") {
        r.factor = s.number("factor").value_or(0.0);
        r.short_factor = number_list(s, "short_factor");
        r.long_factor = number_list(s, "long_factor");
    }
    c.partial_rotary_factor = s.number("partial_rotary_factor").value_or(c.partial_rotary_factor);
}

// A special token written as a string or as an AddedToken object {"content": "<s>", …}.
std::optional<std::string> token_string(const JsonFields& f, std::string_view key) {
    const json* v = f.find(key);
    if (!v) return std::nullopt;
    if (v->is_string()) return v->get<std::string>();
    if (v->is_object()) {
        const auto content = v->find("content");
        if (content != v->end() && content->is_string()) return content->get<std::string>();
    }
    f.wrong_type(key, "a string or an object with a \"content\" string");
}

// What transformers' Gemma3TextConfig assumes for fields a config leaves out: the multimodal
// checkpoints' text_config names only what differs from it (google/gemma-3-4b-it has no vocab_size).
json gemma3_text_defaults() {
    return {{"model_type", "gemma3_text"}, {"vocab_size", 262208}, {"hidden_size", 2304},
            {"intermediate_size", 9216}, {"num_hidden_layers", 26}, {"num_attention_heads", 8},
            {"num_key_value_heads", 4}, {"head_dim", 256}, {"hidden_activation", "gelu_pytorch_tanh"},
            {"max_position_embeddings", 131072}, {"rms_norm_eps", 1e-6}, {"tie_word_embeddings", true},
            {"query_pre_attn_scalar", 256}, {"sliding_window", 4096}, {"rope_theta", 1000000.0},
            {"rope_local_base_freq", 10000.0}, {"sliding_window_pattern", 6}, {"bos_token_id", 2},
            {"eos_token_id", 1}};
}

// A multimodal config (Gemma3ForConditionalGeneration) keeps its language model's fields under
// text_config: those, over the text model's defaults, with the token ids of the top level
// where the text part has none.
json text_part(const json& root, const json& text, const std::string& source) {
    if (!text.is_object()) fail("{}: field 'text_config' must be an object", source);
    const std::string outer = root.value("model_type", "");
    json merged = outer == "gemma3" || text.value("model_type", "") == "gemma3_text" ? gemma3_text_defaults()
                                                                                     : json::object();
    for (const char* k : {"bos_token_id", "eos_token_id", "tie_word_embeddings", "dtype", "torch_dtype"})
        if (root.contains(k) && !root[k].is_null()) merged[k] = root[k];
    merged.update(text);
    if (!merged.contains("model_type")) fail("{}: field 'text_config' has no 'model_type'", source);
    return merged;
}

ModelConfig parse_config_object(const json& root, const std::string& source) {
    const JsonFields f(root, source);
    ModelConfig c;
    const auto model_type = f.string("model_type");
    if (!model_type || model_type->empty()) fail("{}: missing field 'model_type'", source);
    // Gemma 3's text model says gemma3_text and Phi-2 says phi: the architectures GGUF calls
    // gemma3 and phi2, the names of their rows.
    c.architecture = *model_type == "gemma3_text" ? "gemma3" : *model_type == "phi" ? "phi2" : *model_type;
    c.vocab_size = positive(f, {"vocab_size"});
    c.hidden_size = positive(f, {"hidden_size", "n_embd", "d_model"});
    c.intermediate_size = positive(f, {"intermediate_size", "n_inner", "ffn_dim"});
    c.num_layers = positive(f, {"num_hidden_layers", "n_layer", "num_layers"});
    c.num_heads = positive(f, {"num_attention_heads", "n_head", "num_heads"});
    c.num_kv_heads = f.int32("num_key_value_heads").value_or(c.num_heads);
    if (c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
        fail("{}: field 'num_key_value_heads' is {}, expected a positive divisor of num_attention_heads ({})", source,
             c.num_kv_heads, c.num_heads);
    if (const auto head_dim = f.int32("head_dim")) {
        if (*head_dim <= 0) fail("{}: field 'head_dim' must be positive, found {}", source, *head_dim);
        c.head_dim = *head_dim;
    } else {
        if (c.hidden_size % c.num_heads != 0)
            fail("{}: hidden_size {} is not a multiple of num_attention_heads {} and there is no 'head_dim'", source,
                 c.hidden_size, c.num_heads);
        c.head_dim = c.hidden_size / c.num_heads;
    }
    c.max_position = f.int32("max_position_embeddings").value_or(f.int32("n_positions").value_or(0));
    if (c.max_position < 0) fail("{}: field 'max_position_embeddings' is negative", source);
    c.rms_norm_eps = f.number("rms_norm_eps").value_or(f.number("layer_norm_eps").value_or(
        f.number("layer_norm_epsilon").value_or(c.rms_norm_eps)));
    read_rope(f, c);
    c.tie_word_embeddings = f.boolean("tie_word_embeddings").value_or(false);
    // Qwen2 and Phi-2 always have q/k/v biases and their configs do not say so.
    c.attention_bias = f.boolean("attention_bias").value_or(c.architecture == "qwen2" || c.architecture == "phi2");
    // Qwen2 writes a sliding_window but uses it only when use_sliding_window is true.
    if (f.boolean("use_sliding_window").value_or(true)) c.sliding_window = f.int32("sliding_window").value_or(0);
    // transformers' Gemma 2 and 3 MLPs read hidden_activation; the others (Gemma included) hidden_act.
    const bool activation_first = c.architecture == "gemma2" || c.architecture == "gemma3";
    const auto first = f.string(activation_first ? "hidden_activation" : "hidden_act");
    const auto second = f.string(activation_first ? "hidden_act" : "hidden_activation");
    c.hidden_act = first ? *first : second.value_or(c.hidden_act);
    if (const json* types = f.find("layer_types")) {
        if (!types->is_array()) f.wrong_type("layer_types", "a list of strings");
        for (const json& t : *types) {
            if (!t.is_string()) f.wrong_type("layer_types", "a list of strings");
            c.layer_types.push_back(t.get<std::string>());
        }
    } else if (const auto pattern = f.int32("sliding_window_pattern"); pattern && *pattern > 0) {
        // transformers 4's Gemma 3: layer i attends globally when (i + 1) % pattern == 0.
        for (int l = 0; l < c.num_layers; ++l)
            c.layer_types.push_back((l + 1) % *pattern == 0 ? "full_attention" : "sliding_attention");
    }
    c.query_pre_attn_scalar = f.number("query_pre_attn_scalar").value_or(0.0);
    c.attn_logit_softcapping = f.number("attn_logit_softcapping").value_or(0.0);
    c.final_logit_softcapping = f.number("final_logit_softcapping").value_or(0.0);
    c.partial_rotary_factor = f.number("partial_rotary_factor").value_or(c.partial_rotary_factor);
    c.bos_token_id = f.int32("bos_token_id").value_or(-1);
    c.eos_token_ids = f.int_list("eos_token_id");
    // transformers 5 writes "dtype", transformers 4 "torch_dtype".
    c.torch_dtype = f.string("dtype").value_or(f.string("torch_dtype").value_or(""));
    return c;
}

}  // namespace

ModelConfig parse_hf_config(const std::string& json_text, const std::string& source) {
    const json root = formats::parse_json_object(json_text, source);
    if (const auto text = root.find("text_config"); text != root.end())
        return parse_config_object(text_part(root, *text, source), source + " text_config");
    return parse_config_object(root, source);
}

GenerationDefaults parse_generation_config(const std::string& json_text, const std::string& source) {
    const json root = formats::parse_json_object(json_text, source);
    const JsonFields f(root, source);
    GenerationDefaults g;
    g.do_sample = f.boolean("do_sample");
    g.temperature = f.number("temperature");
    g.top_p = f.number("top_p");
    g.min_p = f.number("min_p");
    g.typical_p = f.number("typical_p");
    g.repetition_penalty = f.number("repetition_penalty");
    g.top_k = f.int32("top_k");
    g.max_new_tokens = f.int32("max_new_tokens");
    g.max_length = f.int32("max_length");
    g.eos_token_ids = f.int_list("eos_token_id");
    return g;
}

TokenizerConfig parse_tokenizer_config(const std::string& json_text, const std::string& source) {
    const json root = formats::parse_json_object(json_text, source);
    const JsonFields f(root, source);
    TokenizerConfig t;
    t.tokenizer_class = f.string("tokenizer_class").value_or("");
    t.bos_token = token_string(f, "bos_token");
    t.eos_token = token_string(f, "eos_token");
    t.unk_token = token_string(f, "unk_token");
    t.pad_token = token_string(f, "pad_token");
    t.add_bos_token = f.boolean("add_bos_token");
    t.add_eos_token = f.boolean("add_eos_token");
    // chat_template: one string, or a list of {"name", "template"} of which "default" is used.
    if (const json* tmpl = f.find("chat_template")) {
        if (tmpl->is_string()) {
            t.chat_template = tmpl->get<std::string>();
        } else if (tmpl->is_array()) {
            for (const auto& entry : *tmpl) {
                if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
                    !entry["name"].is_string() || !entry["template"].is_string())
                    fail("{}: field 'chat_template': each list entry must be {{\"name\": string, \"template\": string}}", source);
                t.named_chat_templates.emplace_back(entry["name"].get<std::string>(), entry["template"].get<std::string>());
                if (entry["name"] == "default") t.chat_template = entry["template"].get<std::string>();
            }
        } else {
            f.wrong_type("chat_template", "a string or a list of named templates");
        }
    }
    return t;
}

}  // namespace slm
