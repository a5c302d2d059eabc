// SafetensorsFile: parses and validates a .safetensors image (u64 header length, JSON header,
// tensors packed back to back in the data section) and serves zero-copy tensor views.
#include <slm/error.h>
#include <slm/safetensors.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

namespace slm {
namespace {
using nlohmann::json;

// The Python library refuses larger headers; so do we, before parsing anything.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
}  // namespace

struct SafetensorsParser {
    SafetensorsFile& file;

    template <typename... Args>
    [[noreturn]] void error(fmt::format_string<Args...> format, Args&&... args) const {
        throw Error(file.path_ + ": " + fmt::format(format, std::forward<Args>(args)...));
    }

    uint64_t read_unsigned(const json& v, const std::string& name, std::string_view field) const {
        if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
            error("tensor '{}': {} holds {}, expected a non-negative integer", name, field, v.dump());
        return v.get<uint64_t>();
    }

    void read_metadata(const json& value) {
        if (!value.is_object()) error("__metadata__ is not an object");
        for (const auto& [key, v] : value.items()) {
            if (!v.is_string()) error("__metadata__ entry '{}' is not a string", key);
            file.metadata_.emplace_back(key, v.get<std::string>());
        }
        std::sort(file.metadata_.begin(), file.metadata_.end());
    }

    SafetensorsTensorInfo read_tensor(const std::string& name, const json& entry) const {
        if (!entry.is_object()) error("tensor '{}': entry is not an object", name);
        const auto dtype_it = entry.find("dtype");
        const auto shape_it = entry.find("shape");
        const auto offsets_it = entry.find("data_offsets");
        if (dtype_it == entry.end() || !dtype_it->is_string()) error("tensor '{}': missing or non-string \"dtype\"", name);
        if (shape_it == entry.end() || !shape_it->is_array()) error("tensor '{}': missing or non-array \"shape\"", name);
        if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2)
            error("tensor '{}': \"data_offsets\" must be an array of two integers", name);
        SafetensorsTensorInfo t;
        t.name = name;
        const std::string dtype_name = dtype_it->get<std::string>();
        const auto dtype = dtype_from_safetensors(dtype_name);
        if (!dtype) error("tensor '{}': unsupported dtype '{}'", name, dtype_name);
        t.dtype = *dtype;
        uint64_t numel = 1;
        for (const auto& d : *shape_it) {
            const uint64_t dim = read_unsigned(d, name, "shape");
            if (dim > uint64_t(INT64_MAX) || __builtin_mul_overflow(numel, dim, &numel))
                error("tensor '{}': element count of shape {} overflows 64 bits", name, shape_it->dump());
            t.shape.push_back(int64_t(dim));
        }
        uint64_t nbytes = 0;
        if (__builtin_mul_overflow(numel, uint64_t(traits(t.dtype).block_bytes), &nbytes) || nbytes > uint64_t(INT64_MAX))
            error("tensor '{}': byte size of shape {} overflows 64 bits", name, shape_it->dump());
        t.begin = read_unsigned((*offsets_it)[0], name, "data_offsets");
        t.end = read_unsigned((*offsets_it)[1], name, "data_offsets");
        if (t.end < t.begin) error("tensor '{}': data_offsets [{}, {}] end before they begin", name, t.begin, t.end);
        if (t.end - t.begin != nbytes)
            error("tensor '{}': data_offsets [{}, {}] hold {} bytes but {} × shape {} needs {}", name, t.begin, t.end,
                  t.end - t.begin, dtype_name, shape_string(t.shape), nbytes);
        return t;
    }

    // Tensors must tile the data section exactly, as the Python library requires: sorted by
    // offset, each starts where the previous ends, the last ends at the end of the file.
    void check_layout(uint64_t data_size) {
        auto& ts = file.tensors_;
        std::sort(ts.begin(), ts.end(), [](const auto& a, const auto& b) {
            return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
        });
        uint64_t expected = 0;
        const SafetensorsTensorInfo* prev = nullptr;
        for (const auto& t : ts) {
            if (t.end > data_size)
                error("tensor '{}': data_offsets [{}, {}] run past the end of the file (data section holds {} bytes)",
                      t.name, t.begin, t.end, data_size);
            if (t.begin < expected) error("tensors '{}' and '{}' overlap", prev->name, t.name);
            if (t.begin > expected)
                error("tensor '{}' starts at {} but the previous data ends at {} (gap in the data section)", t.name,
                      t.begin, expected);
            expected = t.end;
            prev = &t;
        }
        if (expected != data_size)
            error("the data section holds {} bytes but the tensors cover {} (truncated or trailing data)", data_size,
                  expected);
    }

    void parse() {
        if (file.size_ < 8) error("{} bytes is too short for a safetensors file (8-byte header length)", file.size_);
        uint64_t header_len;
        std::memcpy(&header_len, file.data_, 8);
        if (header_len > kMaxHeaderBytes) error("header length {} exceeds the 100 MB limit (corrupt file?)", header_len);
        if (header_len > file.size_ - 8)
            error("header length {} runs past the end of the file ({} bytes)", header_len, file.size_);
        file.data_offset_ = 8 + header_len;
        const char* begin = reinterpret_cast<const char*>(file.data_ + 8);
        const json header = json::parse(begin, begin + header_len, nullptr, /*allow_exceptions=*/false);
        if (header.is_discarded()) error("header is not valid JSON");
        if (!header.is_object()) error("header is not a JSON object");
        file.tensors_.reserve(header.size());
        for (const auto& [key, value] : header.items()) {
            if (key == "__metadata__") read_metadata(value);
            else file.tensors_.push_back(read_tensor(key, value));
        }
        check_layout(file.size_ - file.data_offset_);
        for (size_t i = 0; i < file.tensors_.size(); ++i) file.index_.emplace(file.tensors_[i].name, i);
    }
};

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(const uint8_t* data, size_t size, std::string name) {
    std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
    file->path_ = std::move(name);
    file->data_ = data;
    file->size_ = size;
    SafetensorsParser{*file}.parse();
    return file;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    Buffer mapping = Buffer::map_file(path);
    auto file = parse(mapping.data(), mapping.size(), path);
    file->mapping_ = std::move(mapping);
    return file;
}

std::optional<std::string> SafetensorsFile::get_metadata(std::string_view key) const {
    for (const auto& [k, v] : metadata_)
        if (k == key) return v;
    return std::nullopt;
}

const SafetensorsTensorInfo* SafetensorsFile::find_info(std::string_view name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::vector<std::string> SafetensorsFile::tensor_names() const {
    std::vector<std::string> names;
    names.reserve(tensors_.size());
    for (const auto& t : tensors_) names.push_back(t.name);
    return names;
}

std::optional<Tensor> SafetensorsFile::find_tensor(const std::string& name) const {
    const SafetensorsTensorInfo* info = find_info(name);
    if (!info) return std::nullopt;
    Tensor t;
    t.dtype = info->dtype;
    t.shape = info->shape;
    // Read-only mapping; Tensor's pointer is non-const because it also views writable buffers.
    t.data = const_cast<uint8_t*>(data_ + data_offset_ + info->begin);
    return t;
}

}  // namespace slm
