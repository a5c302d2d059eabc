// `slm info PATH [--tensors] [--json]`: what a model is (architecture, size, shape, rope,
// tokenizer, special tokens, chat template, weight types) for a GGUF file, a safetensors file or
// an HF directory. Vocab-only GGUFs print what they hold. --json is for scripts and tests.
#include <CLI/CLI.hpp>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>
#include <slm/model_config.h>
#include <slm/safetensors.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>

#include "model/architecture.h"
#include "model_arg.h"

namespace {

using namespace slm;
using Json = nlohmann::ordered_json;

struct InfoOptions {
    std::string path;
    bool tensors = false;
    bool json = false;
};

std::string human_count(double n) {
    if (n >= 1e9) return fmt::format("{:.2f} B", n / 1e9);
    if (n >= 1e6) return fmt::format("{:.1f} M", n / 1e6);
    if (n >= 1e3) return fmt::format("{:.1f} K", n / 1e3);
    return fmt::format("{}", n);
}

std::string human_bytes(double n) {
    if (n >= double(1ull << 30)) return fmt::format("{:.2f} GiB", n / double(1ull << 30));
    if (n >= double(1 << 20)) return fmt::format("{:.1f} MiB", n / double(1 << 20));
    if (n >= 1024) return fmt::format("{:.1f} KiB", n / 1024);
    return fmt::format("{} B", n);
}

// Parameter count, per-dtype totals, the dominant matrix dtype and (optionally) the tensor table.
void describe_tensors(const TensorSource& source, bool list, Json& out) {
    int64_t params = 0;
    std::map<std::string, std::pair<int64_t, int64_t>> by_dtype;  // name -> (tensors, bytes)
    std::map<std::string, int64_t> matrix_bytes;
    Json table = Json::array();
    const auto names = source.tensor_names();
    for (const auto& name : names) {
        const Tensor t = *source.find_tensor(name);
        const auto bytes = int64_t(t.nbytes());
        params += t.numel();
        auto& d = by_dtype[std::string(slm::name(t.dtype))];
        d.first += 1;
        d.second += bytes;
        if (t.ndim() >= 2) matrix_bytes[std::string(slm::name(t.dtype))] += bytes;
        if (list) table.push_back({{"name", name}, {"dtype", slm::name(t.dtype)}, {"shape", t.shape}, {"bytes", bytes}});
    }
    out["tensor_count"] = names.size();
    out["parameters"] = params;
    std::string dominant;
    int64_t best = -1;
    for (const auto& [dtype, bytes] : matrix_bytes)
        if (bytes > best) best = bytes, dominant = dtype;
    if (!dominant.empty()) out["weight_dtype"] = dominant;
    Json dtypes = Json::object();
    for (const auto& [dtype, counts] : by_dtype) dtypes[dtype] = {{"tensors", counts.first}, {"bytes", counts.second}};
    out["dtypes"] = dtypes;
    if (list) out["tensors"] = table;
}

void describe_config(const ModelConfig& c, Json& out) {
    out["architecture"] = c.architecture;
    out["context_length"] = c.max_position;
    out["layers"] = c.num_layers;
    out["heads"] = c.num_heads;
    out["kv_heads"] = c.num_kv_heads;
    out["hidden_size"] = c.hidden_size;
    out["intermediate_size"] = c.intermediate_size;
    out["head_dim"] = c.head_dim;
    out["vocab_size"] = c.vocab_size;
    out["rms_norm_eps"] = c.rms_norm_eps;
    Json rope = {{"theta", c.rope_theta}, {"scaling", c.rope_scaling.type}};
    if (c.rope_scaling.type != "default") {
        rope["factor"] = c.rope_scaling.factor;
        if (c.rope_scaling.original_max_position) rope["original_context_length"] = c.rope_scaling.original_max_position;
    }
    if (c.partial_rotary_factor != 1.0) rope["dimensions"] = int(c.head_dim * c.partial_rotary_factor);  // Phi-2
    if (c.rope_local_theta > 0) rope["local_theta"] = c.rope_local_theta;  // Gemma 3's sliding layers
    out["rope"] = rope;
    out["tied_embeddings"] = c.tie_word_embeddings;
    out["attention_bias"] = c.attention_bias;
    out["sliding_window"] = c.sliding_window;
    // Which layers slide (Gemma 2/3), where the config lists them; without a list the
    // architecture's pattern applies.
    if (!c.layer_types.empty()) {
        Json sliding = Json::array();
        for (size_t l = 0; l < c.layer_types.size(); ++l)
            if (c.layer_types[l] == "sliding_attention") sliding.push_back(l);
        out["sliding_layers"] = sliding;
    }
    if (c.query_pre_attn_scalar > 0) out["query_pre_attn_scalar"] = c.query_pre_attn_scalar;
    if (c.attn_logit_softcapping > 0) out["attn_logit_softcapping"] = c.attn_logit_softcapping;
    if (c.final_logit_softcapping > 0) out["final_logit_softcapping"] = c.final_logit_softcapping;
    out["hidden_act"] = c.hidden_act;
    if (!c.torch_dtype.empty()) out["config_dtype"] = c.torch_dtype;
}

Json special_token(const std::optional<std::string>& text, std::optional<int64_t> id) {
    Json t = Json::object();
    if (text) t["token"] = *text;
    if (id && *id >= 0) t["id"] = *id;
    return t;
}

void describe_gguf_tokenizer(const GgufFile& gguf, Json& out) {
    const TokenizerConfig tc = tokenizer_config_from_gguf(gguf);
    Json tok = Json::object();
    if (const auto model = gguf.get_string("tokenizer.ggml.model")) tok["type"] = *model;
    if (const auto pre = gguf.get_string("tokenizer.ggml.pre")) tok["pre"] = *pre;
    if (const GgufValue* tokens = gguf.find("tokenizer.ggml.tokens"))
        tok["tokens"] = tokens->as_array("tokenizer.ggml.tokens").items.size();
    if (const GgufValue* merges = gguf.find("tokenizer.ggml.merges"))
        tok["merges"] = merges->as_array("tokenizer.ggml.merges").items.size();
    const std::pair<const char*, const std::optional<std::string>*> specials[] = {
        {"bos", &tc.bos_token}, {"eos", &tc.eos_token}, {"unk", &tc.unk_token}, {"pad", &tc.pad_token}};
    static const std::map<std::string, std::string> id_keys = {
        {"bos", "tokenizer.ggml.bos_token_id"}, {"eos", "tokenizer.ggml.eos_token_id"},
        {"unk", "tokenizer.ggml.unknown_token_id"}, {"pad", "tokenizer.ggml.padding_token_id"}};
    Json sp = Json::object();
    for (const auto& [role, text] : specials) {
        const Json t = special_token(*text, gguf.get_int(id_keys.at(role)));
        if (!t.empty()) sp[role] = t;
    }
    tok["special_tokens"] = sp;
    if (tc.add_bos_token) tok["add_bos_token"] = *tc.add_bos_token;
    out["tokenizer"] = tok;
    out["chat_template"] = {{"present", !tc.chat_template.empty()}, {"source", "tokenizer.chat_template"},
                            {"chars", tc.chat_template.size()}};
}

// Token ids of the special tokens named in tokenizer_config.json, from tokenizer.json's
// added_tokens; and the tokenizer model type ("BPE", "Unigram", "WordPiece", …).
void describe_hf_tokenizer(const ModelFiles& m, Json& out) {
    Json tok = Json::object();
    std::map<std::string, int64_t> added;
    if (!m.tokenizer_json.empty()) {
        nlohmann::json tj;
        try {
            tj = nlohmann::json::parse(read_text_file(m.tokenizer_json));
        } catch (const nlohmann::json::exception& e) {
            fail("{}: invalid JSON: {}", m.tokenizer_json, e.what());
        }
        if (tj.contains("model") && tj["model"].is_object()) {
            const auto& model = tj["model"];
            if (model.contains("type") && model["type"].is_string()) tok["type"] = model["type"].get<std::string>();
            if (model.contains("vocab") && (model["vocab"].is_object() || model["vocab"].is_array()))
                tok["tokens"] = model["vocab"].size();
            if (model.contains("merges") && model["merges"].is_array()) tok["merges"] = model["merges"].size();
        }
        if (tj.contains("added_tokens") && tj["added_tokens"].is_array())
            for (const auto& t : tj["added_tokens"])
                if (t.is_object() && t.contains("content") && t["content"].is_string() && t.contains("id") && t["id"].is_number_integer())
                    added[t["content"].get<std::string>()] = t["id"].get<int64_t>();
    }
    const TokenizerConfig& tc = m.tokenizer_config;
    if (!tc.tokenizer_class.empty()) tok["class"] = tc.tokenizer_class;
    auto id_of = [&](const std::optional<std::string>& text, std::optional<int64_t> fallback) -> std::optional<int64_t> {
        if (text && added.count(*text)) return added.at(*text);
        return fallback;
    };
    const std::optional<int64_t> bos_id = m.config.bos_token_id >= 0 ? std::optional<int64_t>(m.config.bos_token_id) : std::nullopt;
    const std::optional<int64_t> eos_id = m.config.eos_token_ids.empty() ? std::nullopt : std::optional<int64_t>(m.config.eos_token_ids[0]);
    Json sp = Json::object();
    const std::tuple<const char*, const std::optional<std::string>*, std::optional<int64_t>> specials[] = {
        {"bos", &tc.bos_token, bos_id}, {"eos", &tc.eos_token, eos_id}, {"unk", &tc.unk_token, std::nullopt},
        {"pad", &tc.pad_token, std::nullopt}};
    for (const auto& [role, text, fallback] : specials) {
        const Json t = special_token(*text, id_of(*text, fallback));
        if (!t.empty()) sp[role] = t;
    }
    tok["special_tokens"] = sp;
    if (tc.add_bos_token) tok["add_bos_token"] = *tc.add_bos_token;
    out["tokenizer"] = tok;
    const bool has_jinja = file_exists(m.path + "/chat_template.jinja") ||
                           (!is_directory(m.path) && file_exists(m.path.substr(0, m.path.rfind('/') + 1) + "chat_template.jinja"));
    out["chat_template"] = {{"present", !m.chat_template.empty()},
                            {"source", m.chat_template.empty() ? "" : has_jinja ? "chat_template.jinja" : "tokenizer_config.json"},
                            {"chars", m.chat_template.size()}};
}

Json collect_gguf(const std::string& path, bool list) {
    const auto gguf = GgufFile::open(path);
    Json out;
    out["path"] = path;
    out["format"] = "gguf";
    out["gguf_version"] = gguf->version();
    out["file_bytes"] = gguf->file_size();
    if (const auto name = gguf->get_string("general.name")) out["name"] = *name;
    out["vocab_only"] = gguf->tensor_infos().empty();
    if (gguf->tensor_infos().empty()) {
        // No weights: the hyperparameters may be incomplete, so print only those present.
        out["architecture"] = gguf->get_string("general.architecture").value_or("");
        if (const GgufValue* tokens = gguf->find("tokenizer.ggml.tokens"))
            out["vocab_size"] = tokens->as_array("tokenizer.ggml.tokens").items.size();
    } else {
        ModelConfig config = config_from_gguf(*gguf);
        // GGUF has no activation key, and llama.cpp fixes some architectures' layer pattern and
        // local rope base: what the architecture's row says applies.
        if (const model::Architecture* arch = model::architecture_row(config.architecture)) {
            config.hidden_act = std::string(arch->gguf_activation);
            if (config.layer_types.empty() && arch->global_every > 0 && config.sliding_window > 0)
                for (int l = 0; l < config.num_layers; ++l)
                    config.layer_types.push_back((l + 1) % arch->global_every == 0 ? "full_attention" : "sliding_attention");
            if (config.rope_local_theta == 0) config.rope_local_theta = arch->local_rope_theta;
        }
        describe_config(config, out);
    }
    describe_gguf_tokenizer(*gguf, out);
    describe_tensors(*gguf, list, out);
    return out;
}

Json collect(const std::string& path, bool list) {
    const bool is_gguf_file = !is_directory(path) && file_exists(path) && path.size() >= 5 && path.ends_with(".gguf");
    if (is_gguf_file) return collect_gguf(path, list);
    ModelFiles m = ModelFiles::open(path);
    if (m.gguf) return collect_gguf(m.gguf->path(), list);
    Json out;
    out["path"] = path;
    const auto* sharded = dynamic_cast<const ShardedSafetensors*>(m.tensors.get());
    out["format"] = sharded ? "safetensors (sharded)" : "safetensors";
    if (sharded) out["shards"] = sharded->shards().size();
    out["file_bytes"] = m.file_bytes;
    describe_config(m.config, out);
    describe_hf_tokenizer(m, out);
    describe_tensors(*m.tensors, list, out);
    return out;
}

std::string text_of(const Json& v) {
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

void print_text(const Json& info) {
    auto line = [](std::string_view label, const std::string& value) { fmt::print("{:<16}{}\n", label, value); };
    auto has = [&](const char* key) { return info.contains(key); };
    line("path", text_of(info["path"]));
    std::string format = text_of(info["format"]);
    if (has("gguf_version")) format = fmt::format("GGUF v{}", text_of(info["gguf_version"]));
    if (has("shards")) format += fmt::format(", {} shards", text_of(info["shards"]));
    line("format", fmt::format("{}, {}", format, human_bytes(info["file_bytes"].get<double>())));
    if (has("name")) line("name", text_of(info["name"]));
    line("architecture", text_of(info["architecture"]) + (info.value("vocab_only", false) ? " (vocabulary only, no weights)" : ""));
    if (info["tensor_count"].get<int64_t>() > 0)
        line("parameters", fmt::format("{} ({} tensors)", human_count(info["parameters"].get<double>()), text_of(info["tensor_count"])));
    if (has("layers")) {
        line("context length", text_of(info["context_length"]));
        line("layers", text_of(info["layers"]));
        line("attention", fmt::format("{} heads, {} KV heads, head_dim {}{}", text_of(info["heads"]), text_of(info["kv_heads"]),
                                      text_of(info["head_dim"]), info["attention_bias"].get<bool>() ? ", q/k/v bias" : ""));
        line("dimensions", fmt::format("hidden {}, FFN {} ({})", text_of(info["hidden_size"]), text_of(info["intermediate_size"]),
                                       text_of(info["hidden_act"])));
        const Json& rope = info["rope"];
        std::string r = fmt::format("theta {}, scaling {}", rope["theta"].get<double>(), text_of(rope["scaling"]));
        if (rope.contains("factor")) r += fmt::format(" ×{}", rope["factor"].get<double>());
        if (rope.contains("dimensions")) r += fmt::format(", first {} dimensions of each head", text_of(rope["dimensions"]));
        if (rope.contains("local_theta")) r += fmt::format("; sliding layers theta {}", rope["local_theta"].get<double>());
        line("rope", r);
        line("norm eps", fmt::format("{:g}", info["rms_norm_eps"].get<double>()));
        line("embeddings", info["tied_embeddings"].get<bool>() ? "tied (output = token embedding)" : "separate output matrix");
        if (info["sliding_window"].get<int64_t>() > 0) {
            std::string w = text_of(info["sliding_window"]);
            if (has("sliding_layers"))
                w += fmt::format(" ({} of {} layers)", info["sliding_layers"].size(), text_of(info["layers"]));
            line("sliding window", w);
        }
        if (has("query_pre_attn_scalar")) line("query scale", fmt::format("query_pre_attn_scalar {:g}", info["query_pre_attn_scalar"].get<double>()));
        if (has("attn_logit_softcapping") || has("final_logit_softcapping"))
            line("soft-capping", fmt::format("attention {}, final logits {}",
                                             has("attn_logit_softcapping") ? text_of(info["attn_logit_softcapping"]) : "off",
                                             has("final_logit_softcapping") ? text_of(info["final_logit_softcapping"]) : "off"));
    }
    if (has("vocab_size")) line("vocab size", text_of(info["vocab_size"]));
    const Json& tok = info["tokenizer"];
    std::string t = tok.contains("type") ? text_of(tok["type"]) : "none found";
    if (tok.contains("pre")) t += fmt::format(" (pre-tokenizer {})", text_of(tok["pre"]));
    if (tok.contains("class")) t += fmt::format(" ({})", text_of(tok["class"]));
    if (tok.contains("merges")) t += fmt::format(", {} merges", text_of(tok["merges"]));
    line("tokenizer", t);
    std::string specials;
    for (const auto& [role, v] : tok["special_tokens"].items()) {
        specials += fmt::format("{}{} {}", specials.empty() ? "" : ", ", role, v.contains("token") ? text_of(v["token"]) : "?");
        if (v.contains("id")) specials += fmt::format(" ({})", text_of(v["id"]));
    }
    if (tok.contains("add_bos_token")) specials += fmt::format("; add_bos_token {}", text_of(tok["add_bos_token"]));
    line("special tokens", specials.empty() ? "none" : specials);
    const Json& ct = info["chat_template"];
    line("chat template", ct["present"].get<bool>()
                              ? fmt::format("yes ({}, {} chars)", text_of(ct["source"]), text_of(ct["chars"]))
                              : std::string("none"));
    if (info["tensor_count"].get<int64_t>() > 0) {
        std::string types;
        for (const auto& [dtype, v] : info["dtypes"].items())
            types += fmt::format("{}{} ×{}", types.empty() ? "" : ", ", dtype, text_of(v["tensors"]));
        line("weights", fmt::format("{} (tensors: {})", info.contains("weight_dtype") ? text_of(info["weight_dtype"]) : "-", types));
    }
    if (!info.contains("tensors")) return;
    fmt::print("\n{:<48} {:<8} {:<16} {:>12}\n", "tensor", "dtype", "shape", "bytes");
    for (const auto& t : info["tensors"]) {
        fmt::print("{:<48} {:<8} {:<16} {:>12}\n", text_of(t["name"]), text_of(t["dtype"]),
                   shape_string(t["shape"].get<std::vector<int64_t>>()), text_of(t["bytes"]));
    }
}

void run_info(const InfoOptions& opt) {
    const Json info = collect(opt.path, opt.tensors);
    if (opt.json) fmt::print("{}\n", info.dump(2));
    else print_text(info);
}

}  // namespace

void add_verb_info(CLI::App& app) {
    auto opt = std::make_shared<InfoOptions>();
    auto* cmd = app.add_subcommand("info", "Describe a model: GGUF file, safetensors file or Hugging Face directory");
    auto models = std::make_shared<cli::ModelArgs>(cmd);
    models->add("path", opt->path, "Model file or directory")->required();
    cmd->add_flag("--tensors", opt->tensors, "List every tensor (name, dtype, shape, bytes)");
    cmd->add_flag("--json", opt->json, "Print machine-readable JSON");
    cmd->callback([opt, models] {
        models->resolve();
        run_info(*opt);
    });
}
