// Trainable f32 weights of a whole model (model_parameters.h).
#include "train/model_parameters.h"

#include "model/architecture.h"
#include "quant/convert_rows.h"

#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/safetensors.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

namespace slm::train {

namespace {

namespace fs = std::filesystem;
using model::WeightRole;

// The files of an HF model directory besides its weights and config that loaders read.
constexpr const char* kSideFiles[] = {"generation_config.json", "tokenizer.json",    "tokenizer_config.json",
                                      "special_tokens_map.json", "tokenizer.model",  "added_tokens.json",
                                      "vocab.json",              "merges.txt",       "chat_template.jinja",
                                      "chat_template.json"};

struct RoleShape {
    WeightRole role;
    std::vector<int64_t> shape;
    bool per_layer;
};

// Every weight a model of `c` has, with its shape, in the order transformers lists parameters.
// Biases appear when the config has them; the head only when it is not tied to the embedding.
std::vector<RoleShape> roles_of(const ModelConfig& c) {
    const int64_t D = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
    const int64_t q = int64_t(c.num_heads) * c.head_dim, kv = int64_t(c.num_kv_heads) * c.head_dim;
    std::vector<RoleShape> r = {{WeightRole::token_embedding, {V, D}, false}};
    const std::vector<RoleShape> layer = {
        {WeightRole::attn_q, {q, D}, true},       {WeightRole::attn_k, {kv, D}, true},
        {WeightRole::attn_v, {kv, D}, true},      {WeightRole::attn_o, {D, q}, true},
        {WeightRole::ffn_gate, {F, D}, true},     {WeightRole::ffn_up, {F, D}, true},
        {WeightRole::ffn_down, {D, F}, true},     {WeightRole::attn_norm, {D}, true},
        {WeightRole::ffn_norm, {D}, true}};
    r.insert(r.end(), layer.begin(), layer.end());
    if (c.attention_bias)
        for (auto [role, n] : {std::pair{WeightRole::attn_q_bias, q}, {WeightRole::attn_k_bias, kv},
                               {WeightRole::attn_v_bias, kv}})
            r.push_back({role, {n}, true});
    r.push_back({WeightRole::output_norm, {D}, false});
    if (!c.tie_word_embeddings) r.push_back({WeightRole::output, {V, D}, false});
    return r;
}

bool is_norm(WeightRole r) {
    return r == WeightRole::attn_norm || r == WeightRole::ffn_norm || r == WeightRole::output_norm;
}
bool is_bias(WeightRole r) {
    return r == WeightRole::attn_q_bias || r == WeightRole::attn_k_bias || r == WeightRole::attn_v_bias ||
           r == WeightRole::attn_o_bias;
}

nlohmann::ordered_json read_config_json(const std::string& dir) {
    const std::string path = (fs::path(dir) / "config.json").string();
    try {
        return nlohmann::ordered_json::parse(read_text_file(path));
    } catch (const nlohmann::json::exception& e) {
        fail("{}: not valid JSON: {}", path, e.what());
    }
}

// Copies tensor `from_name` of `source` into a new entry named `to_name` as f32.
ModelParameters::Entry load_entry(const TensorSource& source, const std::string& from_name, const std::string& to_name,
                                  const std::vector<int64_t>& shape, ThreadPool& pool) {
    const std::optional<Tensor> t = source.find_tensor(from_name);
    if (!t) fail("{}: tensor '{}' is missing", source.describe(), from_name);
    if (t->shape != shape)
        fail("{}: tensor '{}' is {}, the config says {}", source.describe(), from_name, shape_string(t->shape),
             shape_string(shape));
    if (!traits(t->dtype).is_float)
        fail("{}: tensor '{}' is {}: training needs float weights (f32, f16, bf16)", source.describe(), from_name,
             name(t->dtype));
    ModelParameters::Entry e{to_name, shape, std::vector<float>(size_t(t->numel())), {}};
    const int64_t cols = t->row_length();
    quant::convert_rows(t->dtype, t->data, DType::f32, e.value.data(), t->numel() / std::max<int64_t>(1, cols), cols,
                        pool);
    e.grad.assign(e.value.size(), 0.0f);
    return e;
}

void check_hf_directory(const std::string& dir, const char* what) {
    if (!fs::is_directory(dir) || !fs::exists(fs::path(dir) / "config.json"))
        fail("{}: {} must be a Hugging Face model directory (config.json, safetensors and tokenizer files); "
             "training writes its result in that form",
             dir, what);
}

}  // namespace

DType config_dtype(const nlohmann::ordered_json& j) {
    for (const char* key : {"dtype", "torch_dtype"})
        if (j.contains(key) && j[key].is_string()) {
            const std::string s = j[key].get<std::string>();
            if (s == "float16") return DType::f16;
            if (s == "bfloat16") return DType::bf16;
            if (s == "float32") return DType::f32;
        }
    return DType::f32;
}

std::vector<int> parse_layer_list(const std::string& text) {
    std::string list = text;
    if (list.starts_with("layers:")) list = list.substr(7);
    std::vector<int> layers;
    size_t start = 0;
    while (start <= list.size()) {
        size_t end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        const std::string item = list.substr(start, end - start);
        start = end + 1;
        if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || item.size() > 6)
            fail("--student-init '{}': expected layers:I,J,… with layer indices (got '{}')", text, item);
        layers.push_back(std::stoi(item));
    }
    return layers;
}

ModelParameters ModelParameters::from_hf_directory(const std::string& dir, ThreadPool& pool) {
    check_hf_directory(dir, "the model");
    const ModelFiles files = ModelFiles::open(dir);
    model::find_architecture(files.config.architecture, dir);
    ModelParameters p;
    p.config_ = files.config;
    p.config_json_ = read_config_json(dir);
    for (const RoleShape& r : roles_of(p.config_))
        for (int l = 0; l < (r.per_layer ? p.config_.num_layers : 1); ++l) {
            const std::string name = model::tensor_name(r.role, TensorNaming::hf, l);
            p.entries_.push_back(load_entry(*files.tensors, name, name, r.shape, pool));
        }
    return p;
}

ModelParameters ModelParameters::from_teacher_layers(const std::string& teacher_dir, const std::vector<int>& layers,
                                                     ThreadPool& pool) {
    check_hf_directory(teacher_dir, "--student-init takes layers of the teacher, which");
    const ModelFiles files = ModelFiles::open(teacher_dir);
    model::find_architecture(files.config.architecture, teacher_dir);
    if (layers.empty()) fail("--student-init: no layer listed");
    std::set<int> seen;
    for (int l : layers) {
        if (l < 0 || l >= files.config.num_layers)
            fail("--student-init: layer {} is not a layer of the teacher {}, which has layers 0..{}", l, teacher_dir,
                 files.config.num_layers - 1);
        if (!seen.insert(l).second) fail("--student-init: layer {} is listed twice", l);
    }
    ModelParameters p;
    p.config_ = files.config;
    p.config_.num_layers = int(layers.size());
    p.config_json_ = read_config_json(teacher_dir);
    p.config_json_["num_hidden_layers"] = layers.size();
    // Per-layer lists of the config (transformers 5's layer_types, …) follow the chosen layers.
    for (auto& [key, value] : p.config_json_.items())
        if (value.is_array() && value.size() == size_t(files.config.num_layers) && key != "architectures") {
            nlohmann::ordered_json kept = nlohmann::ordered_json::array();
            for (int l : layers) kept.push_back(value[size_t(l)]);
            value = kept;
        }
    if (p.config_json_.contains("max_window_layers"))
        p.config_json_["max_window_layers"] = std::min<int64_t>(p.config_json_["max_window_layers"].get<int64_t>(),
                                                                 int64_t(layers.size()));
    for (const RoleShape& r : roles_of(p.config_))
        for (int i = 0; i < (r.per_layer ? int(layers.size()) : 1); ++i) {
            const int from = r.per_layer ? layers[size_t(i)] : 0;
            p.entries_.push_back(load_entry(*files.tensors, model::tensor_name(r.role, TensorNaming::hf, from),
                                            model::tensor_name(r.role, TensorNaming::hf, i), r.shape, pool));
        }
    return p;
}

ModelParameters ModelParameters::initialize(const nlohmann::ordered_json& config_json, const std::string& source,
                                            uint64_t seed) {
    ModelParameters p;
    p.config_json_ = config_json;
    p.config_ = parse_hf_config(config_json.dump(), source);
    model::find_architecture(p.config_.architecture, source);
    const double std_dev = config_json.contains("initializer_range") && config_json["initializer_range"].is_number()
                               ? config_json["initializer_range"].get<double>()
                               : 0.02;
    if (!(std_dev > 0)) fail("{}: initializer_range must be positive (got {})", source, std_dev);
    int64_t pad = -1;
    if (config_json.contains("pad_token_id") && config_json["pad_token_id"].is_number_integer())
        pad = config_json["pad_token_id"].get<int64_t>();
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, float(std_dev));
    for (const RoleShape& r : roles_of(p.config_))
        for (int l = 0; l < (r.per_layer ? p.config_.num_layers : 1); ++l) {
            Entry e{model::tensor_name(r.role, TensorNaming::hf, l), r.shape, {}, {}};
            int64_t n = 1;
            for (int64_t d : r.shape) n *= d;
            if (is_norm(r.role)) e.value.assign(size_t(n), 1.0f);
            else if (is_bias(r.role)) e.value.assign(size_t(n), 0.0f);
            else {
                e.value.resize(size_t(n));
                for (float& v : e.value) v = normal(rng);
            }
            // nn.Embedding(padding_idx=pad_token_id): that row starts at zero.
            if (r.role == WeightRole::token_embedding && pad >= 0 && pad < r.shape[0])
                std::fill_n(e.value.begin() + pad * r.shape[1], r.shape[1], 0.0f);
            e.grad.assign(size_t(n), 0.0f);
            p.entries_.push_back(std::move(e));
        }
    return p;
}

ModelParameters::Entry* ModelParameters::find(const std::string& name) {
    for (Entry& e : entries_)
        if (e.name == name) return &e;
    return nullptr;
}

const ModelParameters::Entry* ModelParameters::find(const std::string& name) const {
    return const_cast<ModelParameters*>(this)->find(name);
}

int64_t ModelParameters::count() const {
    int64_t n = 0;
    for (const Entry& e : entries_) n += int64_t(e.value.size());
    return n;
}

void ModelParameters::zero_grad() {
    for (Entry& e : entries_) std::fill(e.grad.begin(), e.grad.end(), 0.0f);
}

void ModelParameters::save_hf_directory(const std::string& dir, DType dtype, const std::string& side_files,
                                        ThreadPool& pool) const {
    if (dtype != DType::f32 && dtype != DType::f16 && dtype != DType::bf16)
        fail("{}: a model directory stores f32, f16 or bf16 weights (asked for {})", dir, name(dtype));
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) fail("{}: cannot create the output directory: {}", dir, ec.message());

    SafetensorsWriter writer;
    writer.set_metadata("format", "pt");
    std::vector<std::vector<uint8_t>> storage(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) {
        const Entry& e = entries_[i];
        const int64_t cols = e.shape.back(), rows = int64_t(e.value.size()) / cols;
        if (dtype == DType::f32) {
            writer.add_tensor(e.name, dtype, e.shape, e.value.data());
            continue;
        }
        storage[i].resize(e.value.size() * 2);
        quant::convert_rows(DType::f32, e.value.data(), dtype, storage[i].data(), rows, cols, pool);
        writer.add_tensor(e.name, dtype, e.shape, storage[i].data());
    }
    writer.write((fs::path(dir) / "model.safetensors").string());
    save_side_files(dir, dtype, side_files);
}

void ModelParameters::save_side_files(const std::string& dir, DType dtype, const std::string& side_files) const {
    nlohmann::ordered_json config = config_json_;
    const char* torch_name = dtype == DType::f32 ? "float32" : dtype == DType::f16 ? "float16" : "bfloat16";
    config[config.contains("dtype") ? "dtype" : "torch_dtype"] = torch_name;
    write_file_atomic((fs::path(dir) / "config.json").string(), config.dump(2) + "\n");

    // The tokenizer (and generation defaults) the model is used with.
    const fs::path from = fs::is_directory(side_files) ? fs::path(side_files) : fs::path(side_files).parent_path();
    if (!side_files.empty() && !fs::is_directory(side_files)) {
        if (!fs::exists(side_files)) fail("{}: no such tokenizer file", side_files);
        write_file_atomic((fs::path(dir) / "tokenizer.json").string(), read_text_file(side_files));
    }
    for (const char* file : kSideFiles) {
        const fs::path src = from / file;
        if (side_files.empty() || !fs::exists(src) || fs::exists(fs::path(dir) / file)) continue;
        if (!fs::is_directory(side_files) && std::string(file) != "tokenizer_config.json" &&
            std::string(file) != "special_tokens_map.json")
            continue;
        write_file_atomic((fs::path(dir) / file).string(), read_text_file(src.string()));
    }
}

}  // namespace slm::train
