// PEFT LoRA adapter directories: adapter_config.json (the options that decide what the adapter
// computes) and adapter_model.safetensors (base_model.model.<module>.lora_A/B.weight), read with
// every unsupported option refused by name, and written so that PEFT loads them unchanged.
// Facts (PEFT's source): docs/adapters.md.
#include <slm/dtype.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/lora_adapter.h>
#include <slm/safetensors.h>

#include "formats/json_fields.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <regex>
#include <string_view>

namespace slm {

using formats::JsonFields;
using nlohmann::json;

namespace {

constexpr std::string_view kKeyPrefix = "base_model.model.";  // PEFT: the PeftModel's path to the base model
constexpr std::string_view kSuffixA = ".lora_A.weight";
constexpr std::string_view kSuffixB = ".lora_B.weight";

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// std::regex backtracks, so a pattern with nested or many repetitions can take exponential time
// on a short path (the fuzzer found "y**…"). PEFT's patterns are names with a wildcard or two, so
// slm takes at most kMaxRepeats repetitions, no repetition of a repetition (Python refuses that
// too: "multiple repeat"), and no repetition of a group that repeats or alternates inside.
constexpr int kMaxRepeats = 4;

void check_regex_cost(const std::string& p, std::string_view what) {
    auto refuse = [&](std::string_view why) { fail("{} '{}': {} (slm matches simple patterns only)", what, p, why); };
    struct Group {
        bool repeats_or_alternates = false;
    };
    std::vector<Group> groups;
    int repeats = 0;
    bool after_repeat = false, after_lazy = false, after_busy_group = false;
    for (size_t i = 0; i < p.size(); ++i) {
        const char ch = p[i];
        if (ch == '*' || ch == '+' || ch == '?' || ch == '{') {
            if (ch == '?' && after_repeat && !after_lazy) {  // "*?": the lazy form of the same repetition
                after_lazy = true;
                continue;
            }
            if (after_repeat) refuse("a repetition of a repetition");
            if (after_busy_group) refuse("a repetition of a group that repeats or alternates");
            if (ch == '{') i = std::min(p.find('}', i), p.size());
            if (++repeats > kMaxRepeats) refuse(fmt::format("more than {} repetitions", kMaxRepeats));
            if (!groups.empty()) groups.back().repeats_or_alternates = true;
            after_repeat = true;
            after_lazy = after_busy_group = false;
            continue;
        }
        after_repeat = after_lazy = after_busy_group = false;
        if (ch == '\\') {
            ++i;
        } else if (ch == '[') {  // a class: its characters are literal ("[*]"), "]" first included
            size_t j = i + 1;
            if (j < p.size() && p[j] == '^') ++j;
            if (j < p.size() && p[j] == ']') ++j;
            while (j < p.size() && p[j] != ']') j += p[j] == '\\' ? 2 : 1;
            i = j;
        } else if (ch == '(') {
            groups.push_back({});
            if (i + 1 < p.size() && p[i + 1] == '?') i += 2;  // (?: (?= (?!: the '?' is no repetition
        } else if (ch == ')' && !groups.empty()) {
            after_busy_group = groups.back().repeats_or_alternates;
            groups.pop_back();
            if (after_busy_group && !groups.empty()) groups.back().repeats_or_alternates = true;
        } else if (ch == '|' && !groups.empty()) {
            groups.back().repeats_or_alternates = true;
        }
    }
}

// PEFT's regular expressions are Python's; ECMAScript agrees on what pattern keys and target
// regexes use in practice (classes, groups, alternation, quantifiers). A pattern std::regex cannot
// compile is an error rather than a silent non-match. `user` is the pattern as the file gives it,
// `full` what slm runs (PEFT's wrapping of it).
std::regex compile(const std::string& user, const std::string& full, std::string_view what) {
    check_regex_cost(user, what);
    try {
        return std::regex(full, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        fail("{} '{}' is not a regular expression slm can use: {}", what, user, e.what());
    }
}

// Matching may still give up (std::regex's complexity and stack limits): an error, not a "no".
bool full_match(const std::string& text, const std::string& user, const std::string& full, std::string_view what) {
    const std::regex re = compile(user, full, what);
    try {
        return std::regex_match(text, re);
    } catch (const std::regex_error& e) {
        fail("{} '{}' could not be matched against '{}': {}", what, user, text, e.what());
    }
}

std::string pattern_key_regex(const std::string& key) { return "(.*\\.)?(" + key + ")"; }

// peft.utils.other.get_pattern_key: re.match(rf"(.*\.)?({key})$", module) for each key in order;
// the first that matches wins. regex_match spans the whole path, as re.match + "$" does.
bool pattern_key_matches(const std::string& key, const std::string& module, std::string_view what) {
    return full_match(module, key, pattern_key_regex(key), what);
}

template <typename Keys>
std::optional<std::string> first_pattern_key(const Keys& keys, const std::string& module, std::string_view what) {
    for (const auto& key : keys)
        if (pattern_key_matches(key, module, what)) return key;
    return std::nullopt;
}

template <typename Map>
std::vector<std::string> keys_of(const Map& m) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : m) keys.push_back(k);
    return keys;
}

// Path order in which digit runs compare as numbers: layer 2 before layer 10.
bool natural_less(const std::string& x, const std::string& y) {
    size_t i = 0, j = 0;
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    while (i < x.size() && j < y.size()) {
        if (digit(x[i]) && digit(y[j])) {
            size_t ie = i, je = j;
            while (ie < x.size() && digit(x[ie])) ++ie;
            while (je < y.size() && digit(y[je])) ++je;
            std::string_view a(x.data() + i, ie - i), b(y.data() + j, je - j);
            while (a.size() > 1 && a[0] == '0') a.remove_prefix(1);
            while (b.size() > 1 && b[0] == '0') b.remove_prefix(1);
            if (a.size() != b.size()) return a.size() < b.size();
            if (a != b) return a < b;
            i = ie;
            j = je;
        } else {
            if (x[i] != y[j]) return x[i] < y[j];
            ++i;
            ++j;
        }
    }
    return x.size() - i < y.size() - j;
}

// Module-name lists of PEFT (target_modules, exclude_modules, modules_to_save) come as a list of
// names or as one regular-expression string.
struct NameSelector {
    std::vector<std::string> names;
    std::string regex;  // PEFT's string form
    bool given = false;
};

NameSelector read_selector(const JsonFields& f, std::string_view key) {
    NameSelector s;
    const json* v = f.find(key);
    if (!v) return s;
    s.given = true;
    if (v->is_string()) {
        s.regex = v->get<std::string>();
        return s;
    }
    if (!v->is_array()) f.wrong_type(key, "a list of module names or a regular expression string");
    for (const json& item : *v) {
        if (!item.is_string()) f.wrong_type(key, "a list of module names or a regular expression string");
        s.names.push_back(item.get<std::string>());
    }
    return s;
}

// PEFT's check_target_module_exists for one list or string: a string must match the whole path;
// a name must equal the path or be its last dotted components.
bool selects(const NameSelector& s, const std::string& module, std::string_view what) {
    if (!s.regex.empty()) {
        // "all-linear" is expanded by PEFT into the model's linear layers except the output layer.
        if (s.regex == "all-linear") return module != "lm_head" && !ends_with(module, ".lm_head");
        return full_match(module, s.regex, s.regex, what);
    }
    for (const std::string& name : s.names)
        if (module == name || ends_with(module, "." + name)) return true;
    return false;
}

// What load_peft needs beyond LoraConfig: the pattern keys in file order (PEFT takes the first
// matching key in the order its dict holds them, which is the file's), and the selectors that
// decide which tensors PEFT would load.
struct ParsedConfig {
    LoraConfig config;
    std::vector<std::string> rank_keys_in_file_order, alpha_keys_in_file_order;
    NameSelector exclude_modules, modules_to_save;
};

// The keys of an object field in file order (nlohmann's json sorts them).
std::vector<std::string> keys_in_file_order(const std::string& text, std::string_view field) {
    std::vector<std::string> keys;
    const nlohmann::ordered_json doc = nlohmann::ordered_json::parse(text);
    const auto it = doc.find(field);
    if (it != doc.end() && it->is_object())
        for (const auto& item : it->items()) keys.push_back(item.key());
    return keys;
}

void refuse_if_set(const JsonFields& f, std::string_view key, std::string_view why) {
    const json* v = f.find(key);
    if (!v) return;
    if (v->is_boolean() && !v->get<bool>()) return;
    if ((v->is_array() || v->is_object()) && v->empty()) return;
    fail("{}: field '{}' is {}: {}", f.source(), key, v->dump(), why);
}

ParsedConfig parse_config(const std::string& text, const std::string& source) {
    const json doc = formats::parse_json_object(text, source);
    const JsonFields f(doc, source);
    ParsedConfig p;
    LoraConfig& c = p.config;

    // PeftConfig.from_pretrained needs peft_type to choose the config class; nothing else.
    const auto peft_type = f.string("peft_type");
    if (!peft_type) fail("{}: missing field 'peft_type' (a PEFT adapter_config.json names it, e.g. \"LORA\")", source);
    if (*peft_type != "LORA") fail("{}: field 'peft_type' is \"{}\": only LORA adapters are supported", source, *peft_type);

    c.r = f.int32("r").value_or(8);
    if (c.r <= 0) fail("{}: field 'r' must be positive, found {}", source, c.r);
    c.lora_alpha = f.number("lora_alpha").value_or(8.0);
    c.lora_dropout = f.number("lora_dropout").value_or(0.0);
    c.use_rslora = f.boolean("use_rslora").value_or(false);
    c.base_model_name_or_path = f.string("base_model_name_or_path").value_or("");
    c.task_type = f.string("task_type").value_or("");

    const NameSelector targets = read_selector(f, "target_modules");
    c.target_modules = targets.names;
    c.target_modules_regex = targets.regex;
    if (targets.given && !targets.regex.empty() && targets.regex != "all-linear")
        (void)compile(targets.regex, targets.regex, source + ": target_modules");
    p.exclude_modules = read_selector(f, "exclude_modules");
    if (!p.exclude_modules.regex.empty())
        (void)compile(p.exclude_modules.regex, p.exclude_modules.regex, source + ": exclude_modules");
    p.modules_to_save = read_selector(f, "modules_to_save");

    if (const json* rp = f.object("rank_pattern")) {
        if (!rp->is_object()) f.wrong_type("rank_pattern", "an object of pattern: rank");
        for (const auto& [key, value] : rp->items()) {
            if (!value.is_number_integer() || value.get<int64_t>() <= 0 || value.get<int64_t>() > (1 << 30))
                fail("{}: rank_pattern['{}'] must be a positive integer, found {}", source, key, value.dump());
            (void)compile(key, pattern_key_regex(key), source + ": rank_pattern key");
            c.rank_pattern[key] = int(value.get<int64_t>());
        }
        p.rank_keys_in_file_order = keys_in_file_order(text, "rank_pattern");
    }
    if (const json* ap = f.object("alpha_pattern")) {
        if (!ap->is_object()) f.wrong_type("alpha_pattern", "an object of pattern: alpha");
        for (const auto& [key, value] : ap->items()) {
            if (!value.is_number()) fail("{}: alpha_pattern['{}'] must be a number, found {}", source, key, value.dump());
            (void)compile(key, pattern_key_regex(key), source + ": alpha_pattern key");
            c.alpha_pattern[key] = value.get<double>();
        }
        p.alpha_keys_in_file_order = keys_in_file_order(text, "alpha_pattern");
    }

    // Options that change what the adapter computes in ways slm does not reproduce.
    if (const auto bias = f.string("bias"); bias && *bias != "none")
        fail("{}: field 'bias' is \"{}\": adapters that train biases are not supported (only \"none\")", source, *bias);
    refuse_if_set(f, "use_dora", "DoRA adapters (a learned magnitude per output) are not supported");
    refuse_if_set(f, "fan_in_fan_out", "transposed (Conv1D-style) base weights are not supported");
    refuse_if_set(f, "lora_bias", "a bias on lora_B is not supported");
    refuse_if_set(f, "layer_replication", "adapters over replicated layers are not supported");
    refuse_if_set(f, "use_qalora", "QALoRA (pooled inputs) is not supported");
    refuse_if_set(f, "alora_invocation_tokens", "activated LoRA (aLoRA) is not supported");
    refuse_if_set(f, "trainable_token_indices", "trainable token embeddings are not supported");
    refuse_if_set(f, "target_parameters", "LoRA on parameters (rather than modules) is not supported");
    refuse_if_set(f, "megatron_config", "Megatron parallel layers are not supported");
    for (std::string_view variant : {"velora_config", "kasa_config", "arrow_config", "use_bdlora", "monteclora_config"})
        refuse_if_set(f, variant, "this LoRA variant is not supported");
    if (const json* init = f.find("init_lora_weights"); init && init->is_string()) {
        const std::string how = init->get<std::string>();
        // These initializations subtract the initial adapter from the base weights (or quantize
        // the residual): the adapter only computes the fine-tune on that modified base.
        if (how.starts_with("pissa") || how == "olora" || how == "corda" || how == "loftq" || how == "lora_ga")
            fail("{}: field 'init_lora_weights' is \"{}\": this adapter expects base weights modified by that "
                 "initialization; save it with PEFT's path_initial_model_for_weight_conversion to get a plain LoRA",
                 source, how);
        if (how == "mica") fail("{}: field 'init_lora_weights' is \"mica\": the MiCA variant is not supported", source);
    }
    return p;
}

// Reads a 2-D tensor of f32/f16/bf16 into floats.
std::vector<float> read_floats(const SafetensorsFile& file, const SafetensorsTensorInfo& info) {
    const DTypeTraits& t = traits(info.dtype);
    if (info.dtype != DType::f32 && info.dtype != DType::f16 && info.dtype != DType::bf16)
        fail("{}: tensor '{}' has type {}; LoRA weights must be F32, F16 or BF16", file.path(), info.name, t.name);
    const Tensor view = *file.find_tensor(info.name);
    std::vector<float> out(size_t(view.numel()));
    t.to_float(view.data, out.data(), view.numel());
    return out;
}

std::string describe_shape(const SafetensorsTensorInfo& info) { return shape_string(info.shape); }

// Says why a tensor that is not a LoRA A/B weight cannot be loaded.
[[noreturn]] void refuse_tensor(const std::string& path, const std::string& key, const ParsedConfig& p) {
    const std::string rest = key.substr(kKeyPrefix.size());
    if (key.find("lora_embedding_A") != std::string::npos || key.find("lora_embedding_B") != std::string::npos)
        fail("{}: tensor '{}' is an embedding LoRA (lora_embedding_A/B), which is not supported", path, key);
    if (key.find("lora_magnitude_vector") != std::string::npos)
        fail("{}: tensor '{}' is a DoRA magnitude vector; DoRA adapters are not supported", path, key);
    if (ends_with(key, ".lora_B.bias"))
        fail("{}: tensor '{}' is a bias on lora_B (lora_bias), which is not supported", path, key);
    // PEFT keeps a module out of LoRA when it is in modules_to_save: (^|.*\.)name($|\..*).
    for (const std::string& m : p.modules_to_save.names)
        if (full_match(rest, m, "(^|.*\\.)" + m + "($|\\..*)", "modules_to_save entry"))
            fail("{}: tensor '{}' is a full copy of module '{}' (modules_to_save); training or applying full copies "
                 "of modules is not supported yet",
                 path, key, m);
    if (ends_with(key, ".bias"))
        fail("{}: tensor '{}' is a trained bias (bias \"all\" or \"lora_only\"), which is not supported", path, key);
    fail("{}: tensor '{}' is not a LoRA A/B weight (full module weights, such as a resized embedding, are not "
         "supported)",
         path, key);
}

}  // namespace

int LoraConfig::rank_for(const std::string& module) const {
    const auto key = first_pattern_key(keys_of(rank_pattern), module, "rank_pattern key");
    return key ? rank_pattern.at(*key) : r;
}

float LoraConfig::scale_for(const std::string& module) const {
    const auto key = first_pattern_key(keys_of(alpha_pattern), module, "alpha_pattern key");
    const double alpha = key ? alpha_pattern.at(*key) : lora_alpha;
    const int rank = rank_for(module);
    // peft/tuners/lora/layer.py update_layer: scaling = alpha / sqrt(r) with rslora, else alpha / r.
    return float(use_rslora ? alpha / std::sqrt(double(rank)) : alpha / double(rank));
}

LoraConfig parse_lora_config(const std::string& json_text, const std::string& source) {
    return parse_config(json_text, source).config;
}

std::string lora_config_json(const LoraConfig& c) {
    // The fields every PEFT version since layer_replication (0.10) knows, so that older versions,
    // which reject unknown keys, load the file too. peft_version is left for PEFT to fill in.
    auto number = [](double v) { return v == std::floor(v) && std::abs(v) < 1e15 ? json(int64_t(v)) : json(v); };
    json j = json::object();
    j["peft_type"] = "LORA";
    j["r"] = c.r;
    j["lora_alpha"] = number(c.lora_alpha);
    j["lora_dropout"] = c.lora_dropout;
    if (!c.target_modules_regex.empty())
        j["target_modules"] = c.target_modules_regex;
    else
        j["target_modules"] = c.target_modules;
    j["bias"] = "none";
    j["task_type"] = c.task_type.empty() ? json(nullptr) : json(c.task_type);
    j["base_model_name_or_path"] = c.base_model_name_or_path.empty() ? json(nullptr) : json(c.base_model_name_or_path);
    j["revision"] = nullptr;
    j["use_rslora"] = c.use_rslora;
    j["use_dora"] = false;
    j["fan_in_fan_out"] = false;
    j["rank_pattern"] = json::object();
    for (const auto& [k, v] : c.rank_pattern) j["rank_pattern"][k] = v;
    j["alpha_pattern"] = json::object();
    for (const auto& [k, v] : c.alpha_pattern) j["alpha_pattern"][k] = number(v);
    j["modules_to_save"] = nullptr;
    j["init_lora_weights"] = true;
    j["inference_mode"] = true;
    j["layers_to_transform"] = nullptr;
    j["layers_pattern"] = nullptr;
    j["layer_replication"] = nullptr;
    j["auto_mapping"] = nullptr;
    // PEFT writes json.dumps(indent=2, sort_keys=True); nlohmann's objects are sorted too.
    return j.dump(2) + "\n";
}

const LoraModule* LoraAdapter::find(const std::string& module) const {
    for (const LoraModule& m : modules)
        if (m.module == module) return &m;
    return nullptr;
}

LoraAdapter LoraAdapter::load_peft(const std::string& path) {
    namespace fs = std::filesystem;
    std::string dir = path;
    if (!is_directory(path)) {
        const std::string file = fs::path(path).filename().string();
        if (ends_with(path, ".gguf"))
            fail("{}: a GGUF LoRA adapter is read together with its base model (load_gguf_lora)", path);
        if (file != "adapter_config.json" && file != "adapter_model.safetensors")
            fail("{}: not a PEFT adapter directory (expected adapter_config.json and adapter_model.safetensors)", path);
        dir = fs::path(path).parent_path().string();
        if (dir.empty()) dir = ".";
    }
    const std::string config_path = (fs::path(dir) / "adapter_config.json").string();
    const std::string weights_path = (fs::path(dir) / "adapter_model.safetensors").string();
    if (!file_exists(config_path)) fail("{}: missing (a PEFT adapter directory holds adapter_config.json)", config_path);
    if (!file_exists(weights_path)) {
        const std::string bin = (fs::path(dir) / "adapter_model.bin").string();
        if (file_exists(bin))
            fail("{}: PyTorch pickle files are not read; convert it to adapter_model.safetensors (load the adapter "
                 "with PEFT and save_pretrained(dir, safe_serialization=True))",
                 bin);
        fail("{}: missing (a PEFT adapter directory holds adapter_model.safetensors)", weights_path);
    }

    const ParsedConfig parsed = parse_config(read_text_file(config_path), config_path);
    LoraAdapter adapter;
    adapter.config = parsed.config;
    const LoraConfig& c = adapter.config;
    const auto file = SafetensorsFile::open(weights_path);

    struct Pair {
        const SafetensorsTensorInfo* a = nullptr;
        const SafetensorsTensorInfo* b = nullptr;
    };
    std::map<std::string, Pair> pairs;
    for (const SafetensorsTensorInfo& info : file->tensor_infos()) {
        const std::string& key = info.name;
        if (!key.starts_with(kKeyPrefix))
            fail("{}: tensor '{}' does not start with '{}' (not a PEFT LoRA key)", weights_path, key, kKeyPrefix);
        const bool is_a = ends_with(key, kSuffixA), is_b = ends_with(key, kSuffixB);
        if (!is_a && !is_b) refuse_tensor(weights_path, key, parsed);
        if (key.size() <= kKeyPrefix.size() + kSuffixA.size()) fail("{}: tensor '{}' names no module", weights_path, key);
        const std::string module = key.substr(kKeyPrefix.size(), key.size() - kKeyPrefix.size() - kSuffixA.size());
        (is_a ? pairs[module].a : pairs[module].b) = &info;
    }
    if (pairs.empty()) fail("{}: no LoRA tensors (expected {}<module>{})", weights_path, kKeyPrefix, kSuffixA);

    for (const auto& [module, pair] : pairs) {
        if (!pair.a || !pair.b)
            fail("{}: module '{}' has {} but no {}", weights_path, module, pair.a ? "lora_A" : "lora_B",
                 pair.a ? "lora_B" : "lora_A");
        const SafetensorsTensorInfo& a = *pair.a;
        const SafetensorsTensorInfo& b = *pair.b;
        if (a.shape.size() != 2 || b.shape.size() != 2)
            fail("{}: module '{}': lora_A {} and lora_B {} must be matrices (only linear modules are supported)",
                 weights_path, module, describe_shape(a), describe_shape(b));
        if (a.shape[0] != b.shape[1] || a.shape[0] <= 0 || a.shape[1] <= 0 || b.shape[0] <= 0)
            fail("{}: module '{}': lora_A {} and lora_B {} do not agree (expected [r, in] and [out, r])",
                 weights_path, module, describe_shape(a), describe_shape(b));
        // The rank PEFT would give the module: it builds lora_A/B of that shape, so a file that
        // disagrees does not load there either.
        if (const auto in_file = first_pattern_key(parsed.rank_keys_in_file_order, module, "rank_pattern key"),
            sorted = first_pattern_key(keys_of(c.rank_pattern), module, "rank_pattern key");
            in_file && sorted && c.rank_pattern.at(*in_file) != c.rank_pattern.at(*sorted))
            fail("{}: module '{}' matches rank_pattern keys '{}' and '{}' with different ranks; slm keeps patterns "
                 "in sorted order, so write the one meant first in sorted order",
                 config_path, module, *in_file, *sorted);
        if (const auto in_file = first_pattern_key(parsed.alpha_keys_in_file_order, module, "alpha_pattern key"),
            sorted = first_pattern_key(keys_of(c.alpha_pattern), module, "alpha_pattern key");
            in_file && sorted && c.alpha_pattern.at(*in_file) != c.alpha_pattern.at(*sorted))
            fail("{}: module '{}' matches alpha_pattern keys '{}' and '{}' with different alphas; slm keeps patterns "
                 "in sorted order, so write the one meant first in sorted order",
                 config_path, module, *in_file, *sorted);
        const int rank = c.rank_for(module);
        if (a.shape[0] != rank)
            fail("{}: module '{}' has rank {} (lora_A {}), but {} gives rank {}", weights_path, module, a.shape[0],
                 describe_shape(a), c.rank_pattern.empty() ? std::string("r in adapter_config.json")
                                                           : std::string("r / rank_pattern in adapter_config.json"),
                 rank);
        // A tensor PEFT would not attach to any module would be dropped there: refuse it here.
        const NameSelector targets{c.target_modules, c.target_modules_regex, true};
        if ((!c.target_modules.empty() || !c.target_modules_regex.empty()) &&
            !selects(targets, module, "target_modules"))
            fail("{}: module '{}' is not selected by target_modules in {} (PEFT would not load its tensors)",
                 weights_path, module, config_path);
        if (parsed.exclude_modules.given && selects(parsed.exclude_modules, module, "exclude_modules"))
            fail("{}: module '{}' is excluded by exclude_modules in {} (PEFT would not load its tensors)",
                 weights_path, module, config_path);

        LoraModule m;
        m.module = module;
        m.rank = rank;
        m.in_features = a.shape[1];
        m.out_features = b.shape[0];
        m.scale = c.scale_for(module);
        m.a = read_floats(*file, a);
        m.b = read_floats(*file, b);
        adapter.modules.push_back(std::move(m));
    }
    std::sort(adapter.modules.begin(), adapter.modules.end(),
              [](const LoraModule& x, const LoraModule& y) { return natural_less(x.module, y.module); });
    return adapter;
}

void LoraAdapter::save_peft(const std::string& dir) const {
    namespace fs = std::filesystem;
    if (modules.empty()) fail("{}: an adapter with no modules cannot be saved", dir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) fail("{}: cannot create the directory: {}", dir, ec.message());

    std::vector<std::string> names;
    names.reserve(modules.size() * 2);
    SafetensorsWriter writer;
    writer.set_metadata("format", "pt");  // as PEFT (safetensors' save_file metadata) writes it
    for (const LoraModule& m : modules) {
        if (m.module.empty()) fail("{}: a module has no name", dir);
        if (m.rank <= 0 || m.in_features <= 0 || m.out_features <= 0 ||
            m.a.size() != size_t(m.rank * m.in_features) || m.b.size() != size_t(m.out_features * m.rank))
            fail("{}: module '{}': rank {}, {} -> {} features do not match A ({} values) and B ({} values)", dir,
                 m.module, m.rank, m.in_features, m.out_features, m.a.size(), m.b.size());
        // PEFT recomputes each module's rank and scale from the config: they must agree, or the
        // saved adapter would compute something else there.
        if (m.rank != config.rank_for(m.module))
            fail("{}: module '{}' has rank {} but the config gives it {} (set r or rank_pattern)", dir, m.module,
                 m.rank, config.rank_for(m.module));
        if (m.scale != config.scale_for(m.module))
            fail("{}: module '{}' has scale {} but the config gives it {} (set lora_alpha, alpha_pattern or "
                 "use_rslora)",
                 dir, m.module, m.scale, config.scale_for(m.module));
        const std::string prefix = std::string(kKeyPrefix) + m.module;
        writer.add_tensor(prefix + std::string(kSuffixA), DType::f32, {m.rank, m.in_features}, m.a.data());
        writer.add_tensor(prefix + std::string(kSuffixB), DType::f32, {m.out_features, m.rank}, m.b.data());
        names.push_back(m.module);
    }
    std::sort(names.begin(), names.end());
    if (const auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end())
        fail("{}: module '{}' appears twice", dir, *dup);
    // Each file is replaced atomically; the config goes last, so a directory whose config is new
    // holds the new weights too.
    writer.write((fs::path(dir) / "adapter_model.safetensors").string());
    write_file_atomic((fs::path(dir) / "adapter_config.json").string(), lora_config_json(config));
}

}  // namespace slm
