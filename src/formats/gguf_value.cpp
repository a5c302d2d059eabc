// GgufValue: typed reads of one GGUF metadata value, with errors naming the key; and the names
// of the GGUF metadata types for messages.
#include <slm/error.h>
#include <slm/gguf.h>

#include <array>
#include <limits>

namespace slm {

std::string_view gguf_type_name(GgufType t) {
    static constexpr std::array<std::string_view, 13> kNames = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
    const auto id = uint32_t(t);
    return id < kNames.size() ? kNames[id] : std::string_view("unknown");
}

int64_t GgufValue::as_int(std::string_view what) const {
    if (const auto* u = std::get_if<uint64_t>(&value)) {
        if (*u > uint64_t(std::numeric_limits<int64_t>::max()))
            fail("GGUF key '{}': value {} does not fit a signed 64-bit integer", what, *u);
        return int64_t(*u);
    }
    if (const auto* i = std::get_if<int64_t>(&value)) return *i;
    fail("GGUF key '{}': expected an integer, found {}", what, gguf_type_name(type));
}

double GgufValue::as_float(std::string_view what) const {
    if (const auto* d = std::get_if<double>(&value)) return *d;
    if (const auto* u = std::get_if<uint64_t>(&value)) return double(*u);
    if (const auto* i = std::get_if<int64_t>(&value)) return double(*i);
    fail("GGUF key '{}': expected a number, found {}", what, gguf_type_name(type));
}

bool GgufValue::as_bool(std::string_view what) const {
    if (const auto* b = std::get_if<bool>(&value)) return *b;
    fail("GGUF key '{}': expected a bool, found {}", what, gguf_type_name(type));
}

const std::string& GgufValue::as_string(std::string_view what) const {
    if (const auto* s = std::get_if<std::string>(&value)) return *s;
    fail("GGUF key '{}': expected a string, found {}", what, gguf_type_name(type));
}

const GgufArray& GgufValue::as_array(std::string_view what) const {
    if (const auto* a = std::get_if<GgufArray>(&value)) return *a;
    fail("GGUF key '{}': expected an array, found {}", what, gguf_type_name(type));
}

}  // namespace slm
