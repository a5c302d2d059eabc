// JSON ↔ Value: reading context data with key order kept, and Python's json.dumps for tojson
// (escapes, separators, indentation, float repr) as transformers' tojson filter produces it.
#include "template/json_value.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "template/eval_error.h"
#include "template/text.h"

namespace slm::jinja {

Value value_from_json(const nlohmann::ordered_json& j) {
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null: return Value::none();
        case nlohmann::ordered_json::value_t::boolean: return Value::from(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer: return Value::from(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            auto u = j.get<uint64_t>();
            return u > static_cast<uint64_t>(INT64_MAX) ? Value::from(static_cast<double>(u))
                                                        : Value::from(static_cast<int64_t>(u));
        }
        case nlohmann::ordered_json::value_t::number_float: return Value::from(j.get<double>());
        case nlohmann::ordered_json::value_t::string: return Value::from(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            List items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(value_from_json(e));
            return Value::list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            Dict entries;
            entries.reserve(j.size());
            for (const auto& [k, v] : j.items()) entries.emplace_back(Value::from(k), value_from_json(v));
            return Value::dict(std::move(entries));
        }
        default: return Value::none();  // binary / discarded: not produced by JSON text
    }
}

static void dump_string(std::string& out, const std::string& s, bool ensure_ascii) {
    out += '"';
    for (char32_t c : text::decode(s)) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20 || (ensure_ascii && c >= 0x7F && c < 0x10000)) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                } else if (ensure_ascii && c >= 0x10000) {  // UTF-16 surrogate pair
                    unsigned v = static_cast<unsigned>(c) - 0x10000;
                    out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                } else {
                    text::append(out, c);
                }
        }
    }
    out += '"';
}

static std::string float_json(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    return float_repr(d);
}

// A dict key as json.dumps writes it: str as is, numbers/bools/None converted, others rejected.
static std::string key_text(const Value& k) {
    switch (k.kind) {
        case Value::Kind::string: return k.text;
        case Value::Kind::boolean: return k.boolean ? "true" : "false";
        case Value::Kind::integer: return std::to_string(k.integer);
        case Value::Kind::number: return float_json(k.number);
        case Value::Kind::none: return "null";
        default: eval_fail("TypeError: keys must be str, int, float, bool or None, not {}", type_name(k));
    }
}

namespace {
struct Dumper {
    const JsonDumpOptions& options;
    std::string out;

    void newline(int depth) {
        out += '\n';
        for (int i = 0; i < depth; ++i) out += *options.indent;
    }

    void dump(const Value& v, int depth) {
        if (depth > 500) eval_fail("RecursionError: maximum recursion depth exceeded while encoding a JSON object");
        switch (v.kind) {
            case Value::Kind::none: out += "null"; return;
            case Value::Kind::boolean: out += v.boolean ? "true" : "false"; return;
            case Value::Kind::integer: out += std::to_string(v.integer); return;
            case Value::Kind::number: out += float_json(v.number); return;
            case Value::Kind::string: dump_string(out, v.text, options.ensure_ascii); return;
            case Value::Kind::list:
                if (v.seq == Value::Seq::generator) break;
                dump_sequence(*v.items, depth);
                return;
            case Value::Kind::dict: dump_dict(*v.entries, depth); return;
            default: break;
        }
        eval_fail("TypeError: Object of type {} is not JSON serializable", type_name(v));
    }

    void dump_sequence(const List& items, int depth) {
        if (items.empty()) {
            out += "[]";
            return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += options.item_separator;
            if (options.indent) newline(depth + 1);
            dump(items[i], depth + 1);
        }
        if (options.indent) newline(depth);
        out += ']';
    }

    void dump_dict(const Dict& entries, int depth) {
        if (entries.empty()) {
            out += "{}";
            return;
        }
        std::vector<std::pair<std::string, const Value*>> members;
        for (const auto& [k, v] : entries) members.emplace_back(key_text(k), &v);
        if (options.sort_keys)
            std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        for (size_t i = 0; i < members.size(); ++i) {
            if (i) out += options.item_separator;
            if (options.indent) newline(depth + 1);
            dump_string(out, members[i].first, options.ensure_ascii);
            out += options.key_separator;
            dump(*members[i].second, depth + 1);
        }
        if (options.indent) newline(depth);
        out += '}';
    }
};
}  // namespace

std::string json_dumps(const Value& value, const JsonDumpOptions& options) {
    Dumper dumper{options, {}};
    dumper.dump(value, 0);
    return std::move(dumper.out);
}

}  // namespace slm::jinja
