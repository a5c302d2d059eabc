// GgufBytes: writes raw GGUF bytes field by field, so tests can build well-formed images and
// hostile ones (wrong counts, types, offsets) that no writer would produce.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace slm::test {

struct GgufBytes {
    std::string bytes;

    template <typename T>
    GgufBytes& put(T v) {
        char raw[sizeof(T)];
        std::memcpy(raw, &v, sizeof(T));
        bytes.append(raw, sizeof(T));
        return *this;
    }
    GgufBytes& str(std::string_view s) {
        put<uint64_t>(s.size());
        bytes.append(s);
        return *this;
    }
    // Magic, version and the two counts.
    GgufBytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        bytes.append("GGUF");
        return put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
    }
    // A key and its type id; the caller then puts the value.
    GgufBytes& key(std::string_view k, uint32_t type) { return str(k).put<uint32_t>(type); }
    // A tensor info; `ne` is innermost first, as GGUF stores it.
    GgufBytes& tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t ggml_type, uint64_t offset) {
        str(name).put<uint32_t>(uint32_t(ne.size()));
        for (uint64_t d : ne) put<uint64_t>(d);
        return put<uint32_t>(ggml_type).put<uint64_t>(offset);
    }
    GgufBytes& pad(size_t alignment) {
        while (bytes.size() % alignment) bytes.push_back('\0');
        return *this;
    }
    GgufBytes& zeros(size_t n) {
        bytes.append(n, '\0');
        return *this;
    }
    const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(bytes.data()); }
    size_t size() const { return bytes.size(); }
};

}  // namespace slm::test
