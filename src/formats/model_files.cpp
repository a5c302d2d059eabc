// ModelFiles::open: turns what the user named (a .gguf file, a .safetensors file or index, or a
// Hugging Face model directory) into a config, tensors, tokenizer paths and a chat template.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>
#include <slm/model_config.h>
#include <slm/safetensors.h>

#include "formats/language_model_tensors.h"

#include <cstring>
#include <filesystem>

namespace slm {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool starts_with_gguf_magic(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    char magic[4] = {};
    const bool ok = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
    std::fclose(f);
    return ok;
}

std::string optional_file(const std::string& dir, const char* name) {
    const std::string path = dir + "/" + name;
    return file_exists(path) ? path : std::string();
}

ModelFiles open_gguf(const std::string& path) {
    ModelFiles m;
    m.path = path;
    auto gguf = GgufFile::open(path);
    m.config = config_from_gguf(*gguf);
    m.tokenizer_config = tokenizer_config_from_gguf(*gguf);
    m.chat_template = m.tokenizer_config.chat_template;
    m.naming = TensorNaming::gguf;
    m.file_bytes = int64_t(gguf->file_size());
    m.gguf = gguf.get();
    m.tensors = std::move(gguf);
    return m;
}

int64_t weight_bytes(const TensorSource& source) {
    if (const auto* single = dynamic_cast<const SafetensorsFile*>(&source)) return int64_t(single->file_size());
    int64_t total = 0;
    if (const auto* sharded = dynamic_cast<const ShardedSafetensors*>(&source))
        for (const auto& shard : sharded->shards()) total += int64_t(shard->file_size());
    return total;
}

// An HF directory; `weights` is the safetensors file or index to use (the directory itself
// when the user named the directory).
ModelFiles open_hf(const std::string& dir, const std::string& weights, const std::string& named) {
    const std::string config_path = dir + "/config.json";
    if (!file_exists(config_path))
        fail("{}: no config.json in {} (a Hugging Face model directory needs config.json beside its weights)", named, dir);
    ModelFiles m;
    m.path = named;
    m.config = parse_hf_config(read_text_file(config_path), config_path);
    if (const std::string gen = optional_file(dir, "generation_config.json"); !gen.empty())
        m.generation = parse_generation_config(read_text_file(gen), gen);
    m.tokenizer_json = optional_file(dir, "tokenizer.json");
    m.tokenizer_config_json = optional_file(dir, "tokenizer_config.json");
    if (!m.tokenizer_config_json.empty())
        m.tokenizer_config = parse_tokenizer_config(read_text_file(m.tokenizer_config_json), m.tokenizer_config_json);
    // transformers 5 saves the template in its own file; older models keep it in tokenizer_config.json.
    if (const std::string jinja = optional_file(dir, "chat_template.jinja"); !jinja.empty())
        m.chat_template = read_text_file(jinja);
    else
        m.chat_template = m.tokenizer_config.chat_template;
    m.tensors = open_safetensors(weights);
    m.naming = TensorNaming::hf;
    m.file_bytes = weight_bytes(*m.tensors);
    // A multimodal checkpoint (config.json with text_config): its language model's tensors.
    m.tensors = formats::language_model_tensors(std::move(m.tensors));
    return m;
}

// A directory without config.json but with exactly one .gguf file opens that file.
std::string single_gguf_in(const std::string& dir) {
    std::string found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().extension() != ".gguf") continue;
        if (!found.empty()) return "";
        found = entry.path().string();
    }
    return found;
}

}  // namespace

ModelFiles ModelFiles::open(const std::string& path) {
    if (!file_exists(path)) fail("{}: no such file or directory", path);
    if (is_directory(path)) {
        if (!file_exists(path + "/config.json")) {
            if (const std::string gguf = single_gguf_in(path); !gguf.empty()) return open_gguf(gguf);
        }
        return open_hf(path, path, path);
    }
    if (ends_with(path, ".gguf") || starts_with_gguf_magic(path)) return open_gguf(path);
    if (ends_with(path, ".safetensors") || ends_with(path, ".safetensors.index.json"))
        return open_hf(directory_of(path), path, path);
    if (ends_with(path, ".bin") || ends_with(path, ".pt") || ends_with(path, ".pth")) open_safetensors(path);  // refuses with advice
    fail("{}: not a model file: expected a .gguf file, a .safetensors file or a Hugging Face model directory", path);
}

}  // namespace slm
