// ShardedSafetensors: the shards named by a model.safetensors.index.json, checked against the
// index; and open_safetensors, which finds the weights of a file, index or HF directory.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/safetensors.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace slm {
namespace {
using nlohmann::json;

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

[[noreturn]] void refuse_pytorch_bin(const std::string& path) {
    fail("{}: PyTorch pickle checkpoints are not read (they can run code when loaded); convert the model to "
         "safetensors first, e.g. in Python: AutoModelForCausalLM.from_pretrained(dir).save_pretrained(dir, "
         "safe_serialization=True)",
         path);
}
}  // namespace

std::unique_ptr<ShardedSafetensors> ShardedSafetensors::open(const std::string& index_path) {
    const json index = json::parse(read_text_file(index_path), nullptr, /*allow_exceptions=*/false);
    if (index.is_discarded() || !index.is_object()) fail("{}: not a valid JSON object", index_path);
    const auto map_it = index.find("weight_map");
    if (map_it == index.end() || !map_it->is_object()) fail("{}: missing \"weight_map\" object", index_path);

    auto sharded = std::make_unique<ShardedSafetensors>();
    sharded->index_path_ = index_path;
    // Shard file name -> the tensors the index puts there (std::map: shards in file-name order).
    std::map<std::string, std::vector<std::string>> wanted;
    for (const auto& [tensor, shard] : map_it->items()) {
        if (!shard.is_string()) fail("{}: weight_map entry '{}' is not a file name", index_path, tensor);
        const std::string file = shard.get<std::string>();
        if (file.empty() || file.find('/') != std::string::npos || file == "..")
            fail("{}: weight_map entry '{}' names '{}', expected a file beside the index", index_path, tensor, file);
        wanted[file].push_back(tensor);
    }
    const std::string dir = directory_of(index_path);
    for (const auto& [file, tensors] : wanted) {
        const std::string shard_path = dir + "/" + file;
        if (!file_exists(shard_path)) fail("{}: shard '{}' named in the index is missing", index_path, shard_path);
        auto shard = SafetensorsFile::open(shard_path);
        for (const auto& name : tensors) {
            if (!shard->find_info(name))
                fail("{}: tensor '{}' is listed in shard '{}' but that file does not hold it", index_path, name, file);
            sharded->shard_of_.emplace(name, sharded->shards_.size());
        }
        sharded->shards_.push_back(std::move(shard));
    }
    return sharded;
}

std::pair<const SafetensorsFile*, const SafetensorsTensorInfo*> ShardedSafetensors::locate(std::string_view name) const {
    const auto it = shard_of_.find(std::string(name));
    if (it == shard_of_.end()) return {nullptr, nullptr};
    const SafetensorsFile* shard = shards_[it->second].get();
    return {shard, shard->find_info(name)};
}

std::vector<std::string> ShardedSafetensors::tensor_names() const {
    std::vector<std::string> names;
    for (const auto& shard : shards_)
        for (const auto& info : shard->tensor_infos())
            if (shard_of_.count(info.name)) names.push_back(info.name);
    return names;
}

std::optional<Tensor> ShardedSafetensors::find_tensor(const std::string& name) const {
    const auto [shard, info] = locate(name);
    if (!shard) return std::nullopt;
    return shard->find_tensor(name);
}

std::unique_ptr<TensorSource> open_safetensors(const std::string& path) {
    if (is_directory(path)) {
        for (const char* name : {"/model.safetensors", "/model.safetensors.index.json"})
            if (file_exists(path + name)) return open_safetensors(path + name);
        for (const char* name : {"/pytorch_model.bin", "/pytorch_model.bin.index.json"})
            if (file_exists(path + name)) refuse_pytorch_bin(path + name);
        fail("{}: no model.safetensors or model.safetensors.index.json in this directory", path);
    }
    if (ends_with(path, ".bin") || ends_with(path, ".bin.index.json") || ends_with(path, ".pt") || ends_with(path, ".pth"))
        refuse_pytorch_bin(path);
    if (ends_with(path, ".index.json")) return ShardedSafetensors::open(path);
    return SafetensorsFile::open(path);
}

}  // namespace slm
