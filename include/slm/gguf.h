// GgufFile: a GGUF (v2 or v3) file read through a read-only mapping: metadata key/values of every
// type (nested arrays too), tensor infos, and tensor data as zero-copy views. GgufWriter writes
// one back, byte-identical for a file read and written unchanged. Format facts: docs/formats/gguf.md.
#pragma once

#include <slm/tensor.h>
#include <slm/tensor_source.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace slm {

// GGUF metadata value types, with their on-disk ids.
enum class GgufType : uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
    string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
std::string_view gguf_type_name(GgufType t);

struct GgufValue;
struct GgufArray {
    GgufType element_type = GgufType::u8;
    std::vector<GgufValue> items;
};

// One metadata value. Scalars are held widened (all integers as int64/uint64); `type` keeps the
// on-disk type so that a written file is byte-identical.
struct GgufValue {
    GgufType type = GgufType::u8;
    std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> value;

    // Typed reads; each throws slm::Error naming `what` (the key) on a type mismatch.
    int64_t as_int(std::string_view what) const;     // any integer type
    double as_float(std::string_view what) const;    // f32, f64, or any integer
    bool as_bool(std::string_view what) const;
    const std::string& as_string(std::string_view what) const;
    const GgufArray& as_array(std::string_view what) const;
};

struct GgufKeyValue {
    std::string key;
    GgufValue value;
};

struct GgufTensorInfo {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;  // row-major, outermost first (GGUF stores innermost first)
    uint64_t offset;             // from the start of the tensor data section
    uint64_t nbytes;
};

class GgufFile : public TensorSource {
public:
    // Maps and validates the whole file; throws slm::Error naming the file and what is wrong.
    static std::unique_ptr<GgufFile> open(const std::string& path);
    // Parses a GGUF image held in memory (fuzzing, tests); `data` must outlive the result.
    static std::unique_ptr<GgufFile> parse(const uint8_t* data, size_t size, std::string name);

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }  // where the tensor data section starts
    size_t file_size() const { return size_; }

    const std::vector<GgufKeyValue>& metadata() const { return kv_; }
    const GgufValue* find(std::string_view key) const;
    // Convenience reads: nullopt when the key is absent, slm::Error when of the wrong type.
    std::optional<std::string> get_string(std::string_view key) const;
    std::optional<int64_t> get_int(std::string_view key) const;
    std::optional<double> get_float(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
    std::vector<std::string> get_string_array(std::string_view key) const;  // empty when absent
    std::vector<double> get_float_array(std::string_view key) const;
    std::vector<int64_t> get_int_array(std::string_view key) const;

    const std::vector<GgufTensorInfo>& tensor_infos() const { return tensors_; }
    const GgufTensorInfo* find_info(std::string_view name) const;

    std::vector<std::string> tensor_names() const override;
    std::optional<Tensor> find_tensor(const std::string& name) const override;
    void release_pages(const Tensor& view) const override { mapping_.release_pages(view.data, view.nbytes()); }
    std::string describe() const override { return path_; }
    const uint8_t* data() const { return data_; }

private:
    GgufFile() = default;
    Buffer mapping_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    std::string path_;
    uint32_t version_ = 3;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<GgufKeyValue> kv_;
    std::vector<GgufTensorInfo> tensors_;
    friend struct GgufParser;
};

// Builds a GGUF file: metadata in insertion order, then tensor infos, then aligned tensor data.
// Writes atomically (temp file, fsync, rename).
class GgufWriter {
public:
    explicit GgufWriter(uint32_t version = 3) : version_(version) {}
    void set(std::string key, GgufValue value);  // replaces an existing key in place
    void remove(std::string_view key);
    void add_tensor(std::string name, DType dtype, std::vector<int64_t> shape, const void* data);
    // Copies the version, every key and every tensor of `file` (round trips, re-quantization);
    // the tensors stay views into `file`, which must outlive the write.
    void copy_from(const GgufFile& file);
    void write(const std::string& path) const;
    // The file's bytes in memory (tests and fuzzing; a model's data is copied).
    std::string serialize() const;
    // Helpers for building values.
    static GgufValue str(std::string s);
    static GgufValue u32(uint32_t v);
    static GgufValue i32(int32_t v);
    static GgufValue f32(float v);
    static GgufValue boolean(bool v);
    static GgufValue string_array(const std::vector<std::string>& v);
    static GgufValue f32_array(const std::vector<float>& v);
    static GgufValue i32_array(const std::vector<int32_t>& v);

private:
    struct PendingTensor {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
        const void* data;
    };
    uint64_t alignment() const;  // general.alignment, validated, or 32
    template <typename Sink> void write_to(Sink& sink) const;
    uint32_t version_;
    std::vector<GgufKeyValue> kv_;
    std::vector<PendingTensor> tensors_;
};

}  // namespace slm
