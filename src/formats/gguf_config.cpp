// ModelConfig and TokenizerConfig from GGUF metadata: the `<arch>.*` hyperparameter keys that
// llama.cpp's converter writes, and the tokenizer.* keys. Key list: docs/formats/gguf.md.
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/model_config.h>
#include <slm/tensor.h>

#include <algorithm>

namespace slm {
namespace {

// Reads `<arch>.<name>` keys; errors name the file and the key.
struct ArchKeys {
    const GgufFile& gguf;
    std::string arch;

    std::string key(std::string_view name) const { return arch + "." + std::string(name); }

    // An integer, or a per-layer array of integers (some models vary it by layer): its maximum.
    std::optional<int64_t> integer(std::string_view name) const {
        const std::string k = key(name);
        const GgufValue* v = gguf.find(k);
        if (!v) return std::nullopt;
        if (v->type != GgufType::array) return v->as_int(k);
        int64_t best = 0;
        for (const auto& item : v->as_array(k).items) best = std::max(best, item.as_int(k));
        return best;
    }

    int positive(std::string_view name, std::optional<int64_t> fallback = std::nullopt) const {
        auto v = integer(name);
        if (!v) v = fallback;
        if (!v) fail("{}: missing metadata key '{}'", gguf.path(), key(name));
        if (*v <= 0 || *v > INT32_MAX) fail("{}: metadata key '{}' is {}, expected a positive 32-bit value", gguf.path(), key(name), *v);
        return int(*v);
    }

    std::optional<double> number(std::string_view name) const { return gguf.get_float(key(name)); }
};

// The string of token `id_key` (e.g. tokenizer.ggml.bos_token_id) in the token list, if both exist.
std::optional<std::string> token_text(const GgufFile& gguf, std::string_view id_key) {
    const auto id = gguf.get_int(id_key);
    const GgufValue* tokens = gguf.find("tokenizer.ggml.tokens");
    if (!id || !tokens) return std::nullopt;
    const auto& items = tokens->as_array("tokenizer.ggml.tokens").items;
    if (*id < 0 || uint64_t(*id) >= items.size())
        fail("{}: metadata key '{}' is {}, outside the {} tokens", gguf.path(), id_key, *id, items.size());
    return items[size_t(*id)].as_string("tokenizer.ggml.tokens");
}

// Gemma 2 scales queries by query_pre_attn_scalar^-1/2, which llama.cpp's converter does not
// write: its graph takes (embedding_length / head_count)^-1/2 for the 27B model (46 layers) and
// key_length^-1/2 otherwise. slm's converter writes attention.scale (the multiplier itself, a
// key llama.cpp defines) where the value is neither; 0 means key_length.
double query_pre_attn_scalar(const ArchKeys& k, const ModelConfig& c) {
    if (const auto scale = k.number("attention.scale"); scale && *scale > 0) return 1.0 / (*scale * *scale);
    if (k.arch == "gemma2" && c.num_layers == 46) return double(c.hidden_size / c.num_heads);
    if (k.arch == "gemma3" && c.num_layers == 62) return double(c.hidden_size / c.num_heads);  // its 27B
    return 0.0;
}

// Which layers slide, from attention.sliding_window_pattern where the file has it: a period N
// (layer i global when (i + 1) % N == 0) or one boolean per layer (true: sliding). Without the
// key the architecture's own pattern applies (llama.cpp fixes Gemma 3's at 6).
std::vector<std::string> layer_types(const ArchKeys& k, int num_layers) {
    const std::string key = k.key("attention.sliding_window_pattern");
    const GgufValue* v = k.gguf.find(key);
    std::vector<std::string> types;
    if (!v) return types;
    auto type = [](bool sliding) { return std::string(sliding ? "sliding_attention" : "full_attention"); };
    if (v->type == GgufType::array) {
        const auto& items = v->as_array(key).items;
        if (items.size() != size_t(num_layers))
            fail("{}: metadata key '{}' has {} entries for {} layers", k.gguf.path(), key, items.size(), num_layers);
        for (const auto& item : items) types.push_back(type(item.as_bool(key)));
    } else {
        const int64_t period = v->as_int(key);
        if (period <= 0) fail("{}: metadata key '{}' is {}, expected a positive period", k.gguf.path(), key, period);
        for (int l = 0; l < num_layers; ++l) types.push_back(type((l + 1) % period != 0));
    }
    return types;
}

// A 1-D float tensor's values, if the file has it.
std::optional<std::vector<double>> float_vector(const GgufFile& gguf, const std::string& name) {
    const std::optional<Tensor> t = gguf.find_tensor(name);
    if (!t) return std::nullopt;
    const ToFloatFn to_float = traits(t->dtype).to_float;
    if (t->ndim() != 1 || !to_float)
        fail("{}: tensor '{}' has shape {} and dtype {}, expected a 1-D float vector", gguf.path(), name,
             shape_string(t->shape), slm::name(t->dtype));
    std::vector<float> values(size_t(t->numel()));
    to_float(t->data, values.data(), t->numel());
    return std::vector<double>(values.begin(), values.end());
}

}  // namespace

ModelConfig config_from_gguf(const GgufFile& gguf) {
    ModelConfig c;
    const auto arch = gguf.get_string("general.architecture");
    if (!arch || arch->empty()) fail("{}: missing metadata key 'general.architecture'", gguf.path());
    c.architecture = *arch;
    const ArchKeys k{gguf, *arch};
    c.hidden_size = k.positive("embedding_length");
    c.num_layers = k.positive("block_count");
    c.intermediate_size = k.positive("feed_forward_length");
    c.num_heads = k.positive("attention.head_count");
    c.num_kv_heads = k.positive("attention.head_count_kv", c.num_heads);
    if (c.num_heads % c.num_kv_heads != 0)
        fail("{}: metadata key '{}' is {}, not a divisor of the head count {}", gguf.path(),
             k.key("attention.head_count_kv"), c.num_kv_heads, c.num_heads);
    if (!k.integer("attention.key_length") && c.hidden_size % c.num_heads != 0)
        fail("{}: embedding_length {} is not a multiple of the head count {} and there is no '{}'", gguf.path(),
             c.hidden_size, c.num_heads, k.key("attention.key_length"));
    c.head_dim = k.positive("attention.key_length", c.hidden_size / c.num_heads);
    c.max_position = k.positive("context_length");
    // Vocabulary size: the explicit key, else the token list, else the embedding's rows.
    std::optional<int64_t> vocab = k.integer("vocab_size");
    if (!vocab) {
        if (const GgufValue* tokens = gguf.find("tokenizer.ggml.tokens"))
            vocab = int64_t(tokens->as_array("tokenizer.ggml.tokens").items.size());
        else if (const auto* embd = gguf.find_info("token_embd.weight"))
            vocab = embd->shape.front();
    }
    c.vocab_size = k.positive("vocab_size", vocab);
    c.rms_norm_eps = k.number("attention.layer_norm_rms_epsilon")
                         .value_or(k.number("attention.layer_norm_epsilon").value_or(c.rms_norm_eps));
    c.rope_theta = k.number("rope.freq_base").value_or(10000.0);
    // rope.scaling.type: none | linear | yarn | longrope (llama3 scaling is baked into a
    // rope_freqs tensor by the converter instead).
    if (const auto type = gguf.get_string(k.key("rope.scaling.type")); type && *type != "none")
        c.rope_scaling.type = *type;
    c.rope_scaling.factor = k.number("rope.scaling.factor").value_or(1.0);
    c.rope_scaling.original_max_position = int(k.integer("rope.scaling.original_context_length").value_or(0));
    c.rope_scaling.attention_factor = k.number("rope.scaling.attn_factor").value_or(0.0);
    c.sliding_window = int(k.integer("attention.sliding_window").value_or(0));
    c.layer_types = layer_types(k, c.num_layers);
    // Gemma 3's sliding layers: llama.cpp takes base 10000 unless rope.freq_base_swa says otherwise.
    c.rope_local_theta = k.number("rope.freq_base_swa").value_or(0.0);
    // Partial rotary (Phi-2): rope turns rope.dimension_count of each head's dimensions.
    if (const auto rot = k.integer("rope.dimension_count"); rot && *rot > 0 && *rot < c.head_dim)
        c.partial_rotary_factor = double(*rot) / double(c.head_dim);
    c.attn_logit_softcapping = k.number("attn_logit_softcapping").value_or(0.0);
    c.final_logit_softcapping = k.number("final_logit_softcapping").value_or(0.0);
    c.query_pre_attn_scalar = query_pre_attn_scalar(k, c);
    // Facts the converter encodes as tensors rather than keys.
    c.tie_word_embeddings = !gguf.tensor_infos().empty() && !gguf.find_info("output.weight");
    c.attention_bias = gguf.find_info("blk.0.attn_q.bias") != nullptr;
    // Phi-3's longrope: the short and long divisors as rope_factors_{short,long}.weight (no type key).
    const auto long_factors = float_vector(gguf, "rope_factors_long.weight");
    const auto short_factors = float_vector(gguf, "rope_factors_short.weight");
    if (long_factors && short_factors) {
        c.rope_scaling.type = "longrope";
        c.rope_scaling.long_factor = *long_factors;
        c.rope_scaling.short_factor = *short_factors;
        c.rope_scaling.factor = 0.0;  // derived from context_length / original_context_length
    }
    c.bos_token_id = int(gguf.get_int("tokenizer.ggml.bos_token_id").value_or(-1));
    // End of generation: eos, and eot where a chat model has a distinct one.
    for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
        if (const auto id = gguf.get_int(key);
            id && std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), int(*id)) == c.eos_token_ids.end())
            c.eos_token_ids.push_back(int(*id));
    }
    return c;
}

TokenizerConfig tokenizer_config_from_gguf(const GgufFile& gguf) {
    TokenizerConfig t;
    t.bos_token = token_text(gguf, "tokenizer.ggml.bos_token_id");
    t.eos_token = token_text(gguf, "tokenizer.ggml.eos_token_id");
    t.unk_token = token_text(gguf, "tokenizer.ggml.unknown_token_id");
    t.pad_token = token_text(gguf, "tokenizer.ggml.padding_token_id");
    t.add_bos_token = gguf.get_bool("tokenizer.ggml.add_bos_token");
    t.add_eos_token = gguf.get_bool("tokenizer.ggml.add_eos_token");
    t.chat_template = gguf.get_string("tokenizer.chat_template").value_or("");
    // Named templates: tokenizer.chat_templates lists the names, each under tokenizer.chat_template.<name>.
    for (const auto& name : gguf.get_string_array("tokenizer.chat_templates")) {
        if (const auto text = gguf.get_string("tokenizer.chat_template." + name)) t.named_chat_templates.emplace_back(name, *text);
    }
    return t;
}

}  // namespace slm
