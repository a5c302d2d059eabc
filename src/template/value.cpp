// Value: construction, and the Python semantics chat templates rely on (truthiness, ==, <, str,
// repr, len, iteration), so that printed values and comparisons match jinja2 on CPython.
#include "template/value.h"

#include <charconv>
#include <cmath>

#include "template/eval_error.h"
#include "template/text.h"

namespace slm::jinja {

Value Value::undefined(std::string name) {
    Value v;
    v.text = std::move(name);
    return v;
}
Value Value::none() {
    Value v;
    v.kind = Kind::none;
    return v;
}
Value Value::from(bool b) {
    Value v;
    v.kind = Kind::boolean;
    v.boolean = b;
    return v;
}
Value Value::from(int64_t i) {
    Value v;
    v.kind = Kind::integer;
    v.integer = i;
    return v;
}
Value Value::from(double d) {
    Value v;
    v.kind = Kind::number;
    v.number = d;
    return v;
}
Value Value::from(std::string s, bool safe) {
    Value v;
    v.kind = Kind::string;
    v.text = std::move(s);
    v.safe = safe;
    return v;
}
Value Value::list(List items, Seq seq) {
    Value v;
    v.kind = Kind::list;
    v.seq = seq;
    v.items = std::make_shared<List>(std::move(items));
    return v;
}
Value Value::dict(Dict entries) {
    Value v;
    v.kind = Kind::dict;
    v.entries = std::make_shared<Dict>(std::move(entries));
    return v;
}
Value Value::ns(Dict attributes) {
    Value v = dict(std::move(attributes));
    v.kind = Kind::ns;
    return v;
}
Value Value::callable(std::string name, Function call) {
    Value v;
    v.kind = Kind::callable;
    v.function = std::make_shared<Callable>(Callable{std::move(name), std::move(call)});
    return v;
}

const Value* Value::find(const Value& key) const {
    if (!entries) return nullptr;
    for (const auto& [k, v] : *entries)
        if (equal(k, key)) return &v;
    return nullptr;
}

const Value* Value::find(const std::string& key) const {
    if (!entries) return nullptr;
    for (const auto& [k, v] : *entries)
        if (k.kind == Kind::string && k.text == key) return &v;
    return nullptr;
}

void Value::set(const Value& key, Value value) {
    for (auto& [k, v] : *entries)
        if (equal(k, key)) {
            v = std::move(value);
            return;
        }
    entries->emplace_back(key, std::move(value));
}

Value CallArgs::take(size_t index, const std::string& name, Value fallback) {
    for (auto it = keywords.begin(); it != keywords.end(); ++it)
        if (it->first == name) {
            Value v = std::move(it->second);
            keywords.erase(it);
            return v;
        }
    if (index < positional.size()) return positional[index];
    return fallback;
}

std::string type_name(const Value& v) {
    switch (v.kind) {
        case Value::Kind::undefined: return "Undefined";
        case Value::Kind::none: return "NoneType";
        case Value::Kind::boolean: return "bool";
        case Value::Kind::integer: return "int";
        case Value::Kind::number: return "float";
        case Value::Kind::string: return v.safe ? "Markup" : "str";
        case Value::Kind::list:
            return v.seq == Value::Seq::tuple ? "tuple" : v.seq == Value::Seq::generator ? "generator" : "list";
        case Value::Kind::dict: return "dict";
        case Value::Kind::callable: return "function";
        case Value::Kind::ns: return "Namespace";
    }
    return "object";
}

bool truthy(const Value& v) {
    switch (v.kind) {
        case Value::Kind::undefined:
        case Value::Kind::none: return false;
        case Value::Kind::boolean: return v.boolean;
        case Value::Kind::integer: return v.integer != 0;
        case Value::Kind::number: return v.number != 0.0;
        case Value::Kind::string: return !v.text.empty();
        case Value::Kind::list: return v.seq == Value::Seq::generator || !v.items->empty();
        case Value::Kind::dict: return !v.entries->empty();
        case Value::Kind::callable:
        case Value::Kind::ns: return true;
    }
    return false;
}

bool equal(const Value& a, const Value& b) {
    if (a.is_numeric() && b.is_numeric()) {
        if (a.kind == Value::Kind::number || b.kind == Value::Kind::number) return a.as_double() == b.as_double();
        return a.as_int() == b.as_int();
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case Value::Kind::undefined:
        case Value::Kind::none: return true;
        case Value::Kind::string: return a.text == b.text;
        case Value::Kind::list: {
            if ((a.seq == Value::Seq::tuple) != (b.seq == Value::Seq::tuple)) return false;
            if (a.seq == Value::Seq::generator || b.seq == Value::Seq::generator) return a.items == b.items;
            if (a.items->size() != b.items->size()) return false;
            for (size_t i = 0; i < a.items->size(); ++i)
                if (!equal((*a.items)[i], (*b.items)[i])) return false;
            return true;
        }
        case Value::Kind::dict: {
            if (a.entries->size() != b.entries->size()) return false;
            for (const auto& [k, v] : *a.entries) {
                const Value* other = b.find(k);
                if (!other || !equal(v, *other)) return false;
            }
            return true;
        }
        case Value::Kind::ns: return a.entries == b.entries;
        case Value::Kind::callable: return a.function == b.function;
        default: return false;
    }
}

int compare(const Value& a, const Value& b) {
    if (a.is_undefined()) undefined_error(a);
    if (b.is_undefined()) undefined_error(b);
    if (a.is_numeric() && b.is_numeric()) {
        if (a.kind == Value::Kind::number || b.kind == Value::Kind::number) {
            double x = a.as_double(), y = b.as_double();
            return x < y ? -1 : x > y ? 1 : 0;
        }
        int64_t x = a.as_int(), y = b.as_int();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) {
        int c = a.text.compare(b.text);  // UTF-8 byte order is code point order
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (a.is_list() && b.is_list() && a.seq == b.seq && a.seq != Value::Seq::generator) {
        size_t n = std::min(a.items->size(), b.items->size());
        for (size_t i = 0; i < n; ++i) {
            if (equal((*a.items)[i], (*b.items)[i])) continue;
            return compare((*a.items)[i], (*b.items)[i]);
        }
        return a.items->size() < b.items->size() ? -1 : a.items->size() > b.items->size() ? 1 : 0;
    }
    eval_fail("TypeError: '<' not supported between instances of '{}' and '{}'", type_name(a), type_name(b));
}

std::string float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
    // Shortest round-trip digits, then Python's layout: fixed for 1e-4 <= |d| < 1e16, else exponent.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool negative = sci[0] == '-';
    if (negative) sci.erase(0, 1);
    size_t e = sci.find('e');
    int exponent = std::stoi(sci.substr(e + 1));
    std::string digits;
    for (char c : sci.substr(0, e))
        if (c != '.') digits += c;
    std::string out = negative ? "-" : "";
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out += "0.";
            out.append(static_cast<size_t>(-exponent - 1), '0');
            out += digits;
        } else if (static_cast<int>(digits.size()) <= exponent + 1) {
            out += digits;
            out.append(static_cast<size_t>(exponent + 1) - digits.size(), '0');
            out += ".0";
        } else {
            out.append(digits, 0, static_cast<size_t>(exponent + 1));
            out += '.';
            out.append(digits, static_cast<size_t>(exponent + 1));
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
        out += '.';
        out.append(digits, 1);
    }
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out;
}

static std::string string_repr(const std::string& s) {
    bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
    char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (char32_t c : text::decode(s)) {
        if (c == static_cast<char32_t>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) {
            out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
        } else {
            text::append(out, c);
        }
    }
    out += quote;
    return out;
}

static std::string sequence_repr(const Value& v) {
    std::string out = v.seq == Value::Seq::tuple ? "(" : "[";
    for (size_t i = 0; i < v.items->size(); ++i) {
        if (i) out += ", ";
        out += to_repr((*v.items)[i]);
    }
    if (v.seq == Value::Seq::tuple && v.items->size() == 1) out += ",";
    out += v.seq == Value::Seq::tuple ? ")" : "]";
    return out;
}

static std::string dict_repr(const Dict& entries) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : entries) {
        if (!first) out += ", ";
        first = false;
        out += to_repr(k);
        out += ": ";
        out += to_repr(v);
    }
    out += '}';
    return out;
}

std::string to_repr(const Value& v) {
    switch (v.kind) {
        case Value::Kind::string: return v.safe ? fmt::format("Markup({})", string_repr(v.text)) : string_repr(v.text);
        case Value::Kind::undefined: return "Undefined";
        default: return to_str(v);
    }
}

std::string to_str(const Value& v) {
    switch (v.kind) {
        case Value::Kind::undefined: return "";
        case Value::Kind::none: return "None";
        case Value::Kind::boolean: return v.boolean ? "True" : "False";
        case Value::Kind::integer: return std::to_string(v.integer);
        case Value::Kind::number: return float_repr(v.number);
        case Value::Kind::string: return v.text;
        case Value::Kind::list:
            if (v.seq == Value::Seq::generator) return "<generator object>";
            return sequence_repr(v);
        case Value::Kind::dict: return dict_repr(*v.entries);
        case Value::Kind::callable: return fmt::format("<function {}>", v.function->name);
        case Value::Kind::ns: return fmt::format("<Namespace {}>", dict_repr(*v.entries));
    }
    return "";
}

List iterate(const Value& v) {
    switch (v.kind) {
        case Value::Kind::undefined: return {};
        case Value::Kind::string: {
            List out;
            for (char32_t c : text::decode(v.text)) {
                std::string s;
                text::append(s, c);
                out.push_back(Value::from(std::move(s), v.safe));
            }
            return out;
        }
        case Value::Kind::list: return *v.items;
        case Value::Kind::dict: {
            List out;
            for (const auto& entry : *v.entries) out.push_back(entry.first);
            return out;
        }
        default: eval_fail("TypeError: '{}' object is not iterable", type_name(v));
    }
}

int64_t length(const Value& v) {
    switch (v.kind) {
        case Value::Kind::undefined: return 0;
        case Value::Kind::string: return text::length(v.text);
        case Value::Kind::list:
            if (v.seq != Value::Seq::generator) return static_cast<int64_t>(v.items->size());
            break;
        case Value::Kind::dict: return static_cast<int64_t>(v.entries->size());
        default: break;
    }
    eval_fail("TypeError: object of type '{}' has no len()", type_name(v));
}

void undefined_error(const Value& v) {
    if (v.text.rfind("SecurityError: ", 0) == 0) throw EvalError{v.text};  // the sandbox's unsafe attribute
    eval_fail("UndefinedError: {}", v.text.empty() ? std::string("value is undefined") : v.text);
}

std::string html_escape(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '\'': out += "&#39;"; break;
            case '"': out += "&#34;"; break;
            default: out += c;
        }
    }
    return out;
}

}  // namespace slm::jinja
