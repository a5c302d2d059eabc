// SafetensorsWriter: lays out a .safetensors file as the Python library does (tensor order,
// compact header JSON, space padding to 8 bytes), so its files load there and ours match theirs.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/safetensors.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace slm {
namespace {

// The Python library orders tensors by descending dtype alignment, using the order of its Dtype
// enum (BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64).
struct DtypeRank {
    DType dtype;
    int rank;
};
constexpr std::array<DtypeRank, 11> kWriteRank = {{
    {DType::boolean, 0}, {DType::u8, 1}, {DType::i8, 2}, {DType::f8_e4m3, 4}, {DType::i16, 5}, {DType::f16, 7},
    {DType::bf16, 8}, {DType::i32, 9}, {DType::f32, 11}, {DType::f64, 12}, {DType::i64, 13},
}};

int write_rank(DType t) {
    for (const auto& r : kWriteRank)
        if (r.dtype == t) return r.rank;
    return -1;
}

uint64_t byte_size(DType dtype, const std::vector<int64_t>& shape) {
    uint64_t n = uint64_t(traits(dtype).block_bytes);
    for (int64_t d : shape) n *= uint64_t(d);
    return n;
}

}  // namespace

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
    for (auto& kv : metadata_) {
        if (kv.first == key) {
            kv.second = std::move(value);
            return;
        }
    }
    metadata_.emplace_back(std::move(key), std::move(value));
}

void SafetensorsWriter::add_tensor(std::string name, DType dtype, std::vector<int64_t> shape, const void* data) {
    if (traits(dtype).safetensors.empty() || write_rank(dtype) < 0)
        fail("safetensors tensor '{}': type {} has no safetensors dtype", name, traits(dtype).name);
    if (name == "__metadata__") fail("safetensors tensor name '__metadata__' is reserved");
    for (int64_t d : shape)
        if (d < 0) fail("safetensors tensor '{}': shape {} has a negative dimension", name, shape_string(shape));
    for (const auto& t : tensors_)
        if (t.name == name) fail("safetensors tensor '{}' added twice", name);
    tensors_.push_back({std::move(name), dtype, std::move(shape), data});
}

std::vector<const SafetensorsWriter::PendingTensor*> SafetensorsWriter::write_order() const {
    std::vector<const PendingTensor*> order;
    for (const auto& t : tensors_) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const PendingTensor* a, const PendingTensor* b) {
        const int ra = write_rank(a->dtype), rb = write_rank(b->dtype);
        return ra != rb ? ra > rb : a->name < b->name;
    });
    return order;
}

std::string SafetensorsWriter::header_json() const {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata_.empty()) {
        auto sorted = metadata_;
        std::sort(sorted.begin(), sorted.end());
        nlohmann::ordered_json meta = nlohmann::ordered_json::object();
        for (const auto& [k, v] : sorted) meta[k] = v;
        header["__metadata__"] = std::move(meta);
    }
    uint64_t offset = 0;
    for (const PendingTensor* t : write_order()) {
        const uint64_t n = byte_size(t->dtype, t->shape);
        nlohmann::ordered_json entry = nlohmann::ordered_json::object();
        entry["dtype"] = std::string(traits(t->dtype).safetensors);
        entry["shape"] = t->shape;
        entry["data_offsets"] = {offset, offset + n};
        header[t->name] = std::move(entry);
        offset += n;
    }
    std::string text;
    try {
        text = header.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::strict);
    } catch (const nlohmann::json::exception& e) {
        fail("safetensors header: tensor names and metadata must be valid UTF-8 ({})", e.what());
    }
    text.append((8 - text.size() % 8) % 8, ' ');  // tensor data starts 8-byte aligned
    return text;
}

std::string SafetensorsWriter::serialize() const {
    const std::string header = header_json();
    const uint64_t n = header.size();
    std::string out(reinterpret_cast<const char*>(&n), 8);
    out += header;
    for (const PendingTensor* t : write_order())
        out.append(static_cast<const char*>(t->data), size_t(byte_size(t->dtype, t->shape)));
    return out;
}

void SafetensorsWriter::write(const std::string& path) const {
    const std::string header = header_json();
    const uint64_t n = header.size();
    AtomicFileWriter out(path);
    out.write(&n, 8);
    out.write(header);
    for (const PendingTensor* t : write_order()) out.write(t->data, size_t(byte_size(t->dtype, t->shape)));
    out.commit();
}

}  // namespace slm
