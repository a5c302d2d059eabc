// GgufFile: parses and validates a GGUF v2/v3 image (header, metadata, tensor infos, aligned data
// section) and serves metadata reads and zero-copy tensor views. Facts: docs/formats/gguf.md.
#include <slm/error.h>
#include <slm/gguf.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace slm {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayDepth = 8;        // deeper nesting is never written by real tools
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
constexpr uint64_t kDefaultAlignment = 32;

// ggml types that exist in ggml but have no row in our DType table, so a file using them gets a
// message naming the type rather than "unknown". Ids 4, 5, 31–33, 36–38 were removed from ggml.
struct GgmlTypeName {
    uint32_t id;
    std::string_view name;
};
constexpr std::array<GgmlTypeName, 12> kUnsupportedGgmlTypes = {{
    {16, "iq2_xxs"}, {17, "iq2_xs"}, {18, "iq3_xxs"}, {19, "iq1_s"}, {20, "iq4_nl"}, {21, "iq3_s"},
    {22, "iq2_s"}, {23, "iq4_xs"}, {29, "iq1_m"}, {34, "tq1_0"}, {35, "tq2_0"}, {39, "mxfp4"},
}};

// Smallest encoding of one value of a metadata type: lets a count be checked against the bytes
// left before anything is allocated for it.
uint64_t min_encoded_size(GgufType t) {
    switch (t) {
        case GgufType::u8: case GgufType::i8: case GgufType::boolean: return 1;
        case GgufType::u16: case GgufType::i16: return 2;
        case GgufType::u32: case GgufType::i32: case GgufType::f32: return 4;
        case GgufType::u64: case GgufType::i64: case GgufType::f64: return 8;
        case GgufType::string: return 8;         // the length
        case GgufType::array: return 12;         // element type + count
    }
    return 1;
}

bool is_known_type(uint32_t id) { return id <= uint32_t(GgufType::f64); }

}  // namespace

// Reads the image front to back; every read is bounds-checked and every failure names the file.
struct GgufParser {
    GgufFile& file;
    const uint8_t* data;
    size_t size;
    size_t pos = 0;

    template <typename... Args>
    [[noreturn]] void error(fmt::format_string<Args...> format, Args&&... args) const {
        throw Error(file.path_ + ": " + fmt::format(format, std::forward<Args>(args)...));
    }

    void need(uint64_t n, std::string_view what) const {
        if (n > size - pos)
            error("{} at offset {} needs {} bytes but the file ends at {} (truncated or corrupt)", what, pos, n,
                  size);
    }

    template <typename T>
    T read(std::string_view what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, data + pos, sizeof(T));
        pos += sizeof(T);
        return v;
    }

    std::string read_string(std::string_view what) {
        const auto len = read<uint64_t>(what);
        need(len, what);
        std::string s(reinterpret_cast<const char*>(data + pos), size_t(len));
        pos += size_t(len);
        return s;
    }

    // Checks that `count` items of at least `min_size` bytes each can fit in what is left.
    void check_count(uint64_t count, uint64_t min_size, std::string_view what) const {
        if (count > (size - pos) / min_size)
            error("{} count {} cannot fit in the {} bytes left in the file", what, count, size - pos);
    }

    GgufType read_type(const std::string& key) {
        const auto id = read<uint32_t>("metadata type");
        if (!is_known_type(id)) error("metadata key '{}': unknown value type id {}", key, id);
        return GgufType(id);
    }

    GgufValue read_value(GgufType type, const std::string& key, int depth) {
        GgufValue v;
        v.type = type;
        switch (type) {
            case GgufType::u8: v.value = uint64_t(read<uint8_t>(key)); break;
            case GgufType::u16: v.value = uint64_t(read<uint16_t>(key)); break;
            case GgufType::u32: v.value = uint64_t(read<uint32_t>(key)); break;
            case GgufType::u64: v.value = read<uint64_t>(key); break;
            case GgufType::i8: v.value = int64_t(read<int8_t>(key)); break;
            case GgufType::i16: v.value = int64_t(read<int16_t>(key)); break;
            case GgufType::i32: v.value = int64_t(read<int32_t>(key)); break;
            case GgufType::i64: v.value = read<int64_t>(key); break;
            case GgufType::f32: v.value = double(read<float>(key)); break;
            case GgufType::f64: v.value = read<double>(key); break;
            case GgufType::boolean: {
                const auto b = read<uint8_t>(key);
                if (b > 1) error("metadata key '{}': bool value {} is neither 0 nor 1", key, b);
                v.value = b == 1;
                break;
            }
            case GgufType::string: v.value = read_string(key); break;
            case GgufType::array: {
                if (depth >= kMaxArrayDepth) error("metadata key '{}': arrays nested deeper than {}", key, kMaxArrayDepth);
                GgufArray array;
                array.element_type = read_type(key);
                const auto count = read<uint64_t>(key);
                check_count(count, min_encoded_size(array.element_type), "metadata key '" + key + "': array element");
                array.items.reserve(size_t(count));
                for (uint64_t i = 0; i < count; ++i) array.items.push_back(read_value(array.element_type, key, depth + 1));
                v.value = std::move(array);
                break;
            }
        }
        return v;
    }

    void parse_header_and_metadata() {
        if (size < 4 || read<uint32_t>("magic") != kMagic) {
            error("not a GGUF file (the first 4 bytes are not \"GGUF\")");
        }
        const auto version = read<uint32_t>("version");
        if (version == 1) error("GGUF version 1 is not supported (it predates 64-bit counts); convert the model again with a current llama.cpp");
        if (version != 2 && version != 3) {
            if (version > 0xffff) error("GGUF version field {:#x} looks byte-swapped: big-endian GGUF files are not supported", version);
            error("unsupported GGUF version {} (slm reads versions 2 and 3)", version);
        }
        file.version_ = version;
        const auto n_tensors = read<uint64_t>("tensor count");
        const auto n_kv = read<uint64_t>("metadata count");
        // Each key/value needs a key length, a type and at least one byte of value.
        check_count(n_kv, 8 + 4 + 1, "metadata entry");
        file.kv_.reserve(size_t(n_kv));
        std::unordered_set<std::string> seen;
        for (uint64_t i = 0; i < n_kv; ++i) {
            GgufKeyValue kv;
            kv.key = read_string(fmt::format("key of metadata entry #{}", i));
            if (!seen.insert(kv.key).second) error("metadata key '{}' appears twice", kv.key);
            const GgufType type = read_type(kv.key);
            kv.value = read_value(type, kv.key, 0);
            file.kv_.push_back(std::move(kv));
        }
        // Each tensor info needs a name length, n_dims, one dim, a type and an offset.
        check_count(n_tensors, 8 + 4 + 8 + 4 + 8, "tensor info");
        file.tensors_.reserve(size_t(n_tensors));
        for (uint64_t i = 0; i < n_tensors; ++i) file.tensors_.push_back(read_tensor_info(i));
    }

    void read_alignment() {
        file.alignment_ = kDefaultAlignment;
        const GgufValue* v = file.find("general.alignment");
        if (!v) return;
        if (v->type != GgufType::u32) error("metadata key 'general.alignment' must be a u32, found {}", gguf_type_name(v->type));
        const auto a = std::get<uint64_t>(v->value);
        if (a == 0 || (a & (a - 1)) != 0) error("metadata key 'general.alignment' is {}, expected a power of two", a);
        file.alignment_ = a;
    }

    GgufTensorInfo read_tensor_info(uint64_t index) {
        GgufTensorInfo t;
        t.name = read_string(fmt::format("name of tensor #{}", index));
        const auto n_dims = read<uint32_t>(t.name);
        if (n_dims == 0 || n_dims > kMaxDims) error("tensor '{}': {} dimensions (expected 1 to {})", t.name, n_dims, kMaxDims);
        std::array<uint64_t, kMaxDims> ne{};
        int64_t numel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            ne[d] = read<uint64_t>(t.name);
            if (ne[d] == 0 || ne[d] > uint64_t(std::numeric_limits<int64_t>::max()))
                error("tensor '{}': dimension {} is {} (must be positive)", t.name, d, int64_t(ne[d]));
            if (__builtin_mul_overflow(numel, int64_t(ne[d]), &numel))
                error("tensor '{}': element count overflows 64 bits", t.name);
        }
        const auto type_id = read<uint32_t>(t.name);
        const auto dtype = dtype_from_gguf(type_id);
        if (!dtype) {
            for (const auto& known : kUnsupportedGgmlTypes)
                if (known.id == type_id) error("unsupported tensor type {} ({}) in tensor '{}'", type_id, known.name, t.name);
            error("unknown tensor type {} in tensor '{}'", type_id, t.name);
        }
        t.dtype = *dtype;
        const auto& tr = traits(t.dtype);
        if (int64_t(ne[0]) % tr.block_size != 0)
            error("tensor '{}': row length {} is not a multiple of the {} block size {}", t.name, ne[0], tr.name, tr.block_size);
        uint64_t nbytes = 0;
        if (__builtin_mul_overflow(uint64_t(numel) / uint64_t(tr.block_size), uint64_t(tr.block_bytes), &nbytes))
            error("tensor '{}': byte size overflows 64 bits", t.name);
        t.nbytes = nbytes;
        t.offset = read<uint64_t>(t.name);
        t.shape.assign(std::make_reverse_iterator(ne.begin() + n_dims), std::make_reverse_iterator(ne.begin()));
        return t;
    }

    void place_tensor_data() {
        const uint64_t a = file.alignment_;
        const uint64_t header_end = pos;
        file.data_offset_ = (header_end + a - 1) / a * a;
        // A file without tensors may end right after its metadata, without padding.
        const uint64_t data_size = file.data_offset_ <= size ? size - file.data_offset_ : 0;
        std::unordered_set<std::string_view> names;
        std::vector<const GgufTensorInfo*> by_offset;
        by_offset.reserve(file.tensors_.size());
        for (const auto& t : file.tensors_) {
            if (!names.insert(t.name).second) error("tensor '{}' appears twice", t.name);
            if (t.offset % a != 0) error("tensor '{}': data offset {} is not a multiple of the alignment {}", t.name, t.offset, a);
            if (t.offset > data_size || t.nbytes > data_size - t.offset)
                error("tensor '{}': data [{}, +{}) runs past the end of the file (data section holds {} bytes)", t.name,
                      t.offset, t.nbytes, data_size);
            by_offset.push_back(&t);
        }
        std::sort(by_offset.begin(), by_offset.end(), [](auto* x, auto* y) { return x->offset < y->offset; });
        for (size_t i = 1; i < by_offset.size(); ++i) {
            const auto* prev = by_offset[i - 1];
            if (prev->offset + prev->nbytes > by_offset[i]->offset)
                error("tensors '{}' and '{}' overlap in the data section", prev->name, by_offset[i]->name);
        }
    }
};

std::unique_ptr<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, std::string name) {
    std::unique_ptr<GgufFile> file(new GgufFile());
    file->path_ = std::move(name);
    file->data_ = data;
    file->size_ = size;
    GgufParser parser{*file, data, size};
    parser.parse_header_and_metadata();
    parser.read_alignment();
    parser.place_tensor_data();
    return file;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
    Buffer mapping = Buffer::map_file(path);
    auto file = parse(mapping.data(), mapping.size(), path);
    file->mapping_ = std::move(mapping);
    return file;
}

const GgufValue* GgufFile::find(std::string_view key) const {
    for (const auto& kv : kv_)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    return v->as_string(key);
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    return v->as_int(key);
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    return v->as_float(key);
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    return v->as_bool(key);
}

namespace {
// Reads every element of the array at `key` with `read_one`; empty when the key is absent.
template <typename T, typename ReadOne>
std::vector<T> read_array(const GgufFile& file, std::string_view key, ReadOne read_one) {
    std::vector<T> out;
    const GgufValue* v = file.find(key);
    if (!v) return out;
    const GgufArray& array = v->as_array(key);
    out.reserve(array.items.size());
    for (const auto& item : array.items) out.push_back(read_one(item));
    return out;
}
}  // namespace

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
    return read_array<std::string>(*this, key, [&](const GgufValue& v) { return v.as_string(key); });
}

std::vector<double> GgufFile::get_float_array(std::string_view key) const {
    return read_array<double>(*this, key, [&](const GgufValue& v) { return v.as_float(key); });
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
    return read_array<int64_t>(*this, key, [&](const GgufValue& v) { return v.as_int(key); });
}

const GgufTensorInfo* GgufFile::find_info(std::string_view name) const {
    for (const auto& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

std::vector<std::string> GgufFile::tensor_names() const {
    std::vector<std::string> names;
    names.reserve(tensors_.size());
    for (const auto& t : tensors_) names.push_back(t.name);
    return names;
}

std::optional<Tensor> GgufFile::find_tensor(const std::string& name) const {
    const GgufTensorInfo* info = find_info(name);
    if (!info) return std::nullopt;
    Tensor t;
    t.dtype = info->dtype;
    t.shape = info->shape;
    // The mapping is read-only; the view's pointer is non-const only because Tensor is shared with
    // writable buffers.
    t.data = const_cast<uint8_t*>(data_ + data_offset_ + info->offset);
    return t;
}

}  // namespace slm
