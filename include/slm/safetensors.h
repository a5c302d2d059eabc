// SafetensorsFile: a .safetensors file read through a read-only mapping (header JSON, optional
// __metadata__, tensors as zero-copy views). ShardedSafetensors: a set of them joined by
// model.safetensors.index.json. SafetensorsWriter writes one file as the Python library does.
// Format facts: docs/formats/safetensors.md.
#pragma once

#include <slm/tensor.h>
#include <slm/tensor_source.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace slm {

struct SafetensorsTensorInfo {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;  // row-major, outermost first; [] is a scalar
    uint64_t begin = 0, end = 0;  // byte range in the data section (after the header)
    uint64_t nbytes() const { return end - begin; }
};

class SafetensorsFile : public TensorSource {
public:
    // Maps and validates the whole file; throws slm::Error naming the file and what is wrong.
    static std::unique_ptr<SafetensorsFile> open(const std::string& path);
    // Parses an image held in memory (fuzzing, tests); `data` must outlive the result.
    static std::unique_ptr<SafetensorsFile> parse(const uint8_t* data, size_t size, std::string name);

    const std::string& path() const { return path_; }
    size_t file_size() const { return size_; }
    uint64_t data_offset() const { return data_offset_; }  // 8 + header length
    // The "__metadata__" entries (string to string), sorted by key.
    const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }
    std::optional<std::string> get_metadata(std::string_view key) const;
    // Tensor infos in data order (as laid out in the file).
    const std::vector<SafetensorsTensorInfo>& tensor_infos() const { return tensors_; }
    const SafetensorsTensorInfo* find_info(std::string_view name) const;

    std::vector<std::string> tensor_names() const override;
    std::optional<Tensor> find_tensor(const std::string& name) const override;
    // A view of a mapped file: its pages may go (a model that copied the tensor, such as QLoRA's
    // NF4 base made from bf16, keeps the copy only). Nothing for an image held in memory.
    void release_pages(const Tensor& view) const override { mapping_.release_pages(view.data, view.nbytes()); }
    std::string describe() const override { return path_; }

private:
    SafetensorsFile() = default;
    Buffer mapping_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    std::string path_;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, std::string>> metadata_;
    std::vector<SafetensorsTensorInfo> tensors_;
    std::unordered_map<std::string_view, size_t> index_;  // name -> position in tensors_
    friend struct SafetensorsParser;
};

// Several safetensors files joined by an index json ({"metadata": {...}, "weight_map": {tensor:
// file}}). Every tensor the index names must be in the shard it names.
class ShardedSafetensors : public TensorSource {
public:
    static std::unique_ptr<ShardedSafetensors> open(const std::string& index_path);

    const std::string& index_path() const { return index_path_; }
    const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
    // The shard holding `name` and its info there; {nullptr, nullptr} when absent.
    std::pair<const SafetensorsFile*, const SafetensorsTensorInfo*> locate(std::string_view name) const;

    // Shards in file-name order, each in data order.
    std::vector<std::string> tensor_names() const override;
    std::optional<Tensor> find_tensor(const std::string& name) const override;
    // Each shard releases the views that lie in its own mapping (the others ignore them).
    void release_pages(const Tensor& view) const override {
        for (const auto& shard : shards_) shard->release_pages(view);
    }
    std::string describe() const override { return index_path_; }

private:
    std::string index_path_;
    std::vector<std::unique_ptr<SafetensorsFile>> shards_;
    std::unordered_map<std::string, size_t> shard_of_;  // tensor name -> index in shards_
};

// The safetensors weights at `path`: a .safetensors file, a model.safetensors.index.json, or a
// directory holding model.safetensors or model.safetensors.index.json. A pytorch_model.bin is
// refused with a message saying how to convert it.
std::unique_ptr<TensorSource> open_safetensors(const std::string& path);

// Writes one .safetensors file the way the Python library does: tensors ordered by descending
// dtype alignment then by name, compact header JSON padded with spaces to 8 bytes. Atomic.
class SafetensorsWriter {
public:
    void set_metadata(std::string key, std::string value);
    // `data` holds the tensor's bytes (numel × element size) and must outlive the write.
    void add_tensor(std::string name, DType dtype, std::vector<int64_t> shape, const void* data);
    void write(const std::string& path) const;
    std::string serialize() const;  // the file's bytes in memory (tests, fuzzing)

private:
    struct PendingTensor {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
        const void* data;
    };
    std::string header_json() const;  // padded; tensors_ sorted as written
    std::vector<const PendingTensor*> write_order() const;
    std::vector<std::pair<std::string, std::string>> metadata_;
    std::vector<PendingTensor> tensors_;
};

}  // namespace slm
