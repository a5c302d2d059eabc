// GgufWriter: lays out a GGUF v2/v3 file (header, metadata, tensor infos, aligned data section)
// exactly as llama.cpp does, so a file read and written unchanged is byte-identical.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace slm {
namespace {

constexpr uint64_t kDefaultAlignment = 32;

// Where the bytes go: the atomic file writer, or a string (serialize()).
struct StringSink {
    std::string& out;
    void write(const void* data, size_t n) { out.append(static_cast<const char*>(data), n); }
    void pad_to(uint64_t alignment) { out.append(size_t((alignment - out.size() % alignment) % alignment), '\0'); }
};

template <typename Sink>
struct GgufEncoder {
    Sink& sink;

    template <typename T>
    void put(T v) { sink.write(&v, sizeof(T)); }

    void put_string(const std::string& s) {
        put<uint64_t>(s.size());
        sink.write(s.data(), s.size());
    }

    // Checks that an integer held widened fits the on-disk type before narrowing it.
    template <typename T>
    T narrow(const GgufValue& v, const std::string& key) {
        if (const auto* u = std::get_if<uint64_t>(&v.value)) {
            if (*u > uint64_t(std::numeric_limits<T>::max())) fail("GGUF key '{}': {} does not fit a {}", key, *u, gguf_type_name(v.type));
            return T(*u);
        }
        if (const auto* i = std::get_if<int64_t>(&v.value)) {
            if (*i < int64_t(std::numeric_limits<T>::min()) ||
                (*i > 0 && uint64_t(*i) > uint64_t(std::numeric_limits<T>::max())))
                fail("GGUF key '{}': {} does not fit a {}", key, *i, gguf_type_name(v.type));
            return T(*i);
        }
        fail("GGUF key '{}': declared {} but holds a non-integer value", key, gguf_type_name(v.type));
    }

    void put_value(const GgufValue& v, const std::string& key) {
        switch (v.type) {
            case GgufType::u8: put(narrow<uint8_t>(v, key)); break;
            case GgufType::u16: put(narrow<uint16_t>(v, key)); break;
            case GgufType::u32: put(narrow<uint32_t>(v, key)); break;
            case GgufType::u64: put(narrow<uint64_t>(v, key)); break;
            case GgufType::i8: put(narrow<int8_t>(v, key)); break;
            case GgufType::i16: put(narrow<int16_t>(v, key)); break;
            case GgufType::i32: put(narrow<int32_t>(v, key)); break;
            case GgufType::i64: put(narrow<int64_t>(v, key)); break;
            case GgufType::f32: put(float(v.as_float(key))); break;
            case GgufType::f64: put(v.as_float(key)); break;
            case GgufType::boolean: put<uint8_t>(v.as_bool(key) ? 1 : 0); break;
            case GgufType::string: put_string(v.as_string(key)); break;
            case GgufType::array: {
                const GgufArray& a = v.as_array(key);
                put<uint32_t>(uint32_t(a.element_type));
                put<uint64_t>(a.items.size());
                for (const auto& item : a.items) {
                    if (item.type != a.element_type)
                        fail("GGUF key '{}': array of {} holds a {}", key, gguf_type_name(a.element_type), gguf_type_name(item.type));
                    put_value(item, key);
                }
                break;
            }
            default: fail("GGUF key '{}': unknown value type id {}", key, uint32_t(v.type));
        }
    }
};

uint64_t tensor_bytes(DType dtype, const std::vector<int64_t>& shape) {
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    return uint64_t(numel / traits(dtype).block_size) * uint64_t(traits(dtype).block_bytes);
}

}  // namespace

GgufValue GgufWriter::str(std::string s) { return {GgufType::string, std::move(s)}; }
GgufValue GgufWriter::u32(uint32_t v) { return {GgufType::u32, uint64_t(v)}; }
GgufValue GgufWriter::i32(int32_t v) { return {GgufType::i32, int64_t(v)}; }
GgufValue GgufWriter::f32(float v) { return {GgufType::f32, double(v)}; }
GgufValue GgufWriter::boolean(bool v) { return {GgufType::boolean, v}; }

namespace {
template <typename T, typename Make>
GgufValue array_of(GgufType element_type, const std::vector<T>& values, Make make) {
    GgufArray a;
    a.element_type = element_type;
    a.items.reserve(values.size());
    for (const auto& v : values) a.items.push_back(make(v));
    return {GgufType::array, std::move(a)};
}
}  // namespace

GgufValue GgufWriter::string_array(const std::vector<std::string>& v) {
    return array_of(GgufType::string, v, [](const std::string& s) { return str(s); });
}
GgufValue GgufWriter::f32_array(const std::vector<float>& v) { return array_of(GgufType::f32, v, f32); }
GgufValue GgufWriter::i32_array(const std::vector<int32_t>& v) { return array_of(GgufType::i32, v, i32); }

void GgufWriter::set(std::string key, GgufValue value) {
    for (auto& kv : kv_) {
        if (kv.key == key) {
            kv.value = std::move(value);
            return;
        }
    }
    kv_.push_back({std::move(key), std::move(value)});
}

void GgufWriter::remove(std::string_view key) {
    std::erase_if(kv_, [&](const GgufKeyValue& kv) { return kv.key == key; });
}

void GgufWriter::add_tensor(std::string name, DType dtype, std::vector<int64_t> shape, const void* data) {
    const auto& tr = traits(dtype);
    if (tr.gguf_id < 0) fail("GGUF tensor '{}': type {} has no GGUF type id", name, tr.name);
    if (shape.empty() || shape.size() > 4) fail("GGUF tensor '{}': {} dimensions (expected 1 to 4)", name, shape.size());
    for (int64_t d : shape)
        if (d <= 0) fail("GGUF tensor '{}': shape {} has a non-positive dimension", name, shape_string(shape));
    if (shape.back() % tr.block_size != 0)
        fail("GGUF tensor '{}': row length {} is not a multiple of the {} block size {}", name, shape.back(), tr.name, tr.block_size);
    for (const auto& t : tensors_)
        if (t.name == name) fail("GGUF tensor '{}' added twice", name);
    tensors_.push_back({std::move(name), dtype, std::move(shape), data});
}

void GgufWriter::copy_from(const GgufFile& file) {
    version_ = file.version();
    for (const auto& kv : file.metadata()) set(kv.key, kv.value);
    for (const auto& info : file.tensor_infos())
        add_tensor(info.name, info.dtype, info.shape, file.data() + file.data_offset() + info.offset);
}

uint64_t GgufWriter::alignment() const {
    for (const auto& kv : kv_) {
        if (kv.key != "general.alignment") continue;
        if (kv.value.type != GgufType::u32) fail("GGUF key 'general.alignment' must be a u32, found {}", gguf_type_name(kv.value.type));
        const auto a = uint64_t(kv.value.as_int(kv.key));
        if (a == 0 || (a & (a - 1)) != 0) fail("GGUF key 'general.alignment' is {}, expected a power of two", a);
        return a;
    }
    return kDefaultAlignment;
}

// A file without tensors ends right after its metadata and tensor infos, as llama.cpp's
// vocab-only files do; otherwise the data section starts at the next multiple of the alignment
// and every tensor (the last too) is padded to it.
template <typename Sink>
void GgufWriter::write_to(Sink& sink) const {
    const uint64_t align = alignment();
    GgufEncoder<Sink> enc{sink};
    sink.write("GGUF", 4);
    enc.template put<uint32_t>(version_);
    enc.template put<uint64_t>(tensors_.size());
    enc.template put<uint64_t>(kv_.size());
    for (const auto& kv : kv_) {
        enc.put_string(kv.key);
        enc.template put<uint32_t>(uint32_t(kv.value.type));
        enc.put_value(kv.value, kv.key);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        enc.put_string(t.name);
        enc.template put<uint32_t>(uint32_t(t.shape.size()));
        for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) enc.template put<uint64_t>(uint64_t(*d));  // innermost first
        enc.template put<uint32_t>(uint32_t(traits(t.dtype).gguf_id));
        enc.template put<uint64_t>(offset);
        offset += (tensor_bytes(t.dtype, t.shape) + align - 1) / align * align;
    }
    if (tensors_.empty()) return;
    sink.pad_to(align);
    for (const auto& t : tensors_) {
        sink.write(t.data, size_t(tensor_bytes(t.dtype, t.shape)));
        sink.pad_to(align);
    }
}

void GgufWriter::write(const std::string& path) const {
    if (version_ != 2 && version_ != 3) fail("{}: cannot write GGUF version {} (2 or 3 only)", path, version_);
    AtomicFileWriter out(path);
    try {
        write_to(out);
    } catch (const Error& e) {
        fail("{}: {}", path, e.what());
    }
    out.commit();
}

std::string GgufWriter::serialize() const {
    if (version_ != 2 && version_ != 3) fail("cannot write GGUF version {} (2 or 3 only)", version_);
    std::string bytes;
    StringSink sink{bytes};
    write_to(sink);
    return bytes;
}

}  // namespace slm
