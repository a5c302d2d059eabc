// ModelParameters: every weight of a Llama-family model as trainable f32 tensors under their
// Hugging Face names, each with a gradient of its shape: the master weights of full fine-tuning,
// of training from scratch and of a distilled student. Made from an HF directory, from a config
// (transformers' initialisation) or from a subset of a teacher's layers; saved as an HF
// directory that transformers loads.
#pragma once

#include <slm/dtype.h>
#include <slm/model_config.h>
#include <slm/thread_pool.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace slm::train {

class ModelParameters {
public:
    struct Entry {
        std::string name;  // "model.layers.0.self_attn.q_proj.weight"
        std::vector<int64_t> shape;
        std::vector<float> value, grad;
    };

    // Every tensor of the HF directory `dir` converted to f32 (`dir` must be a Hugging Face
    // directory: its config.json and tokenizer files are what a saved result is made of).
    static ModelParameters from_hf_directory(const std::string& dir, ThreadPool& pool);
    // A fresh model as transformers initializes one for `config_json` (config.json's text as
    // parsed; `source` names it in errors): linear and embedding weights normal(0,
    // initializer_range), biases zero, norm weights one, the padding token's embedding row zero.
    static ModelParameters initialize(const nlohmann::ordered_json& config_json, const std::string& source,
                                      uint64_t seed);
    // A student made of the teacher's embedding, final norm, head and the listed layers, renumbered
    // 0.. in the order given (DistilBERT's initialisation). Throws when a layer index is out of the
    // teacher's range or repeated, or the list is empty.
    static ModelParameters from_teacher_layers(const std::string& teacher_dir, const std::vector<int>& layers,
                                               ThreadPool& pool);

    const ModelConfig& config() const { return config_; }
    const nlohmann::ordered_json& config_json() const { return config_json_; }
    std::vector<Entry>& entries() { return entries_; }
    const std::vector<Entry>& entries() const { return entries_; }
    Entry* find(const std::string& name);
    const Entry* find(const std::string& name) const;
    int64_t count() const;  // number of trainable values
    void zero_grad();

    // Writes `dir` as a Hugging Face model directory: model.safetensors with every tensor in
    // `dtype` (f32, f16 or bf16), config.json (the config with that dtype), and the tokenizer and
    // generation files copied from `side_files` (a model directory, or a tokenizer.json file whose
    // directory's tokenizer_config.json comes along). Each file is written atomically.
    void save_hf_directory(const std::string& dir, DType dtype, const std::string& side_files, ThreadPool& pool) const;
    // Its other files alone: config.json naming `dtype`, and the tokenizer (checkpoints store the
    // f32 weights themselves).
    void save_side_files(const std::string& dir, DType dtype, const std::string& side_files) const;

private:
    ModelConfig config_;
    nlohmann::ordered_json config_json_;
    std::vector<Entry> entries_;
};

// The storage type of a model directory's config ("torch_dtype" or transformers 5's "dtype":
// float32, float16, bfloat16); f32 when it names none or another.
DType config_dtype(const nlohmann::ordered_json& config_json);

// "0,2,4" or "layers:0,2,4" as `--student-init` takes it.
std::vector<int> parse_layer_list(const std::string& text);

}  // namespace slm::train
