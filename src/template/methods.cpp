// Methods of str, dict and list values (`s.strip()`, `d.items()`, …) bound to their object. The
// sandbox refuses methods that modify a list or dict (append, pop, update, …): calling one fails
// with the SecurityError jinja2's ImmutableSandboxedEnvironment raises.
#include <algorithm>
#include <map>
#include <optional>

#include "template/builtins.h"
#include "template/eval_error.h"
#include "template/text.h"

namespace slm::jinja {

namespace {

using Method = Value (*)(const Value& self, CallArgs& args);

std::optional<std::string> optional_text(const Value& v, const char* method) {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (!v.is_string()) eval_fail("TypeError: {} arg must be None or str", method);
    return v.text;
}

std::string string_arg(const Value& v, const char* method) {
    if (!v.is_string()) eval_fail("TypeError: {}() argument must be str, not {}", method, type_name(v));
    return v.text;
}

Value string_list(const std::vector<std::string>& parts, bool safe) {
    List items;
    for (const auto& p : parts) items.push_back(Value::from(p, safe));
    return Value::list(std::move(items));
}

Value strip_method(const Value& self, CallArgs& args, bool left, bool right) {
    return Value::from(text::strip(self.text, optional_text(args.take(0, "chars", Value::none()), "strip"), left, right), self.safe);
}

// Python's str.format with {} / {0} / {name} fields and {{ }} escapes (no format specs).
Value format_method(const Value& self, CallArgs& args) {
    std::string out;
    size_t auto_index = 0;
    const std::string& f = self.text;
    for (size_t i = 0; i < f.size(); ++i) {
        char c = f[i];
        if ((c == '{' || c == '}') && i + 1 < f.size() && f[i + 1] == c) {
            out += c;
            ++i;
            continue;
        }
        if (c == '}') eval_fail("ValueError: Single '}}' encountered in format string");
        if (c != '{') {
            out += c;
            continue;
        }
        size_t close = f.find('}', i);
        if (close == std::string::npos) eval_fail("ValueError: Single '{{' encountered in format string");
        std::string field = f.substr(i + 1, close - i - 1);
        if (field.find_first_of(":!") != std::string::npos) eval_fail("ValueError: format specs are not supported in str.format");
        Value v;
        if (field.empty() || std::all_of(field.begin(), field.end(), ::isdigit)) {
            size_t index = field.empty() ? auto_index++ : std::stoul(field);
            if (index >= args.positional.size()) eval_fail("IndexError: Replacement index {} out of range for positional args tuple", index);
            v = args.positional[index];
        } else {
            bool found = false;
            for (const auto& [k, kv] : args.keywords)
                if (k == field) {
                    v = kv;
                    found = true;
                }
            if (!found) eval_fail("KeyError: '{}'", field);
        }
        out += to_str(v);
        i = close;
    }
    return Value::from(std::move(out));
}

bool starts_or_ends(const Value& self, const Value& affix, bool at_start) {
    auto one = [&](const Value& a) {
        std::string s = string_arg(a, at_start ? "startswith" : "endswith");
        if (s.size() > self.text.size()) return false;
        return at_start ? self.text.compare(0, s.size(), s) == 0
                        : self.text.compare(self.text.size() - s.size(), s.size(), s) == 0;
    };
    if (affix.is_list() && affix.seq == Value::Seq::tuple) {
        for (const auto& a : *affix.items)
            if (one(a)) return true;
        return false;
    }
    return one(affix);
}

template <typename Pred>
Value all_chars(const Value& self, Pred pred) {
    auto cps = text::decode(self.text);
    if (cps.empty()) return Value::from(false);
    for (char32_t c : cps)
        if (!pred(c)) return Value::from(false);
    return Value::from(true);
}

Value case_test(const Value& self, bool want_upper) {
    bool cased = false;
    for (char32_t c : text::decode(self.text)) {
        bool is_upper = text::to_lower(c) != c, is_lower = text::to_upper(c) != c;
        if ((want_upper && is_lower) || (!want_upper && is_upper)) return Value::from(false);
        cased = cased || is_upper || is_lower;
    }
    return Value::from(cased);
}

const std::map<std::string, Method>& string_methods() {
    static const std::map<std::string, Method> methods = {
        {"strip", [](const Value& s, CallArgs& a) { return strip_method(s, a, true, true); }},
        {"lstrip", [](const Value& s, CallArgs& a) { return strip_method(s, a, true, false); }},
        {"rstrip", [](const Value& s, CallArgs& a) { return strip_method(s, a, false, true); }},
        {"split", [](const Value& s, CallArgs& a) {
             auto sep = optional_text(a.take(0, "sep", Value::none()), "split");
             if (sep && sep->empty()) eval_fail("ValueError: empty separator");
             Value max = a.take(1, "maxsplit", Value::from(int64_t{-1}));
             return string_list(text::split(s.text, sep, max.as_int()), s.safe);
         }},
        {"splitlines", [](const Value& s, CallArgs&) { return string_list(text::splitlines(s.text), s.safe); }},
        {"startswith", [](const Value& s, CallArgs& a) { return Value::from(starts_or_ends(s, a.take(0, "prefix"), true)); }},
        {"endswith", [](const Value& s, CallArgs& a) { return Value::from(starts_or_ends(s, a.take(0, "suffix"), false)); }},
        {"upper", [](const Value& s, CallArgs&) { return Value::from(text::upper(s.text), s.safe); }},
        {"lower", [](const Value& s, CallArgs&) { return Value::from(text::lower(s.text), s.safe); }},
        {"title", [](const Value& s, CallArgs&) { return Value::from(text::title_method(s.text), s.safe); }},
        {"capitalize", [](const Value& s, CallArgs&) { return Value::from(text::capitalize(s.text), s.safe); }},
        {"replace", [](const Value& s, CallArgs& a) {
             std::string from = string_arg(a.take(0, "old"), "replace"), to = string_arg(a.take(1, "new"), "replace");
             return Value::from(text::replace(s.text, from, to, a.take(2, "count", Value::from(int64_t{-1})).as_int()), s.safe);
         }},
        {"find", [](const Value& s, CallArgs& a) { return Value::from(text::find(s.text, string_arg(a.take(0, "sub"), "find"))); }},
        {"index", [](const Value& s, CallArgs& a) {
             int64_t at = text::find(s.text, string_arg(a.take(0, "sub"), "index"));
             if (at < 0) eval_fail("ValueError: substring not found");
             return Value::from(at);
         }},
        {"count", [](const Value& s, CallArgs& a) { return Value::from(text::count(s.text, string_arg(a.take(0, "sub"), "count"))); }},
        {"join", [](const Value& s, CallArgs& a) {
             std::string out;
             bool first = true;
             for (const auto& item : iterate(a.take(0, "iterable"))) {
                 if (!item.is_string()) eval_fail("TypeError: sequence item: expected str instance, {} found", type_name(item));
                 if (!first) out += s.text;
                 first = false;
                 out += item.text;
             }
             return Value::from(std::move(out));
         }},
        {"format", format_method},
        {"isdigit", [](const Value& s, CallArgs&) { return all_chars(s, [](char32_t c) { return c >= '0' && c <= '9'; }); }},
        {"isalpha", [](const Value& s, CallArgs&) {
             return all_chars(s, [](char32_t c) { return text::is_alnum(c) && !(c >= '0' && c <= '9'); });
         }},
        {"isalnum", [](const Value& s, CallArgs&) { return all_chars(s, text::is_alnum); }},
        {"isspace", [](const Value& s, CallArgs&) { return all_chars(s, text::is_space); }},
        {"isupper", [](const Value& s, CallArgs&) { return case_test(s, true); }},
        {"islower", [](const Value& s, CallArgs&) { return case_test(s, false); }},
    };
    return methods;
}

const std::map<std::string, Method>& dict_methods() {
    static const std::map<std::string, Method> methods = {
        {"items", [](const Value& d, CallArgs&) {
             List items;
             for (const auto& [k, v] : *d.entries) items.push_back(Value::list({k, v}, Value::Seq::tuple));
             return Value::list(std::move(items));
         }},
        {"keys", [](const Value& d, CallArgs&) { return Value::list(iterate(d)); }},
        {"values", [](const Value& d, CallArgs&) {
             List items;
             for (const auto& entry : *d.entries) items.push_back(entry.second);
             return Value::list(std::move(items));
         }},
        {"get", [](const Value& d, CallArgs& a) {
             const Value* v = d.find(a.take(0, "key"));
             return v ? *v : a.take(1, "default", Value::none());
         }},
        {"copy", [](const Value& d, CallArgs&) { return Value::dict(*d.entries); }},
    };
    return methods;
}

const std::map<std::string, Method>& list_methods() {
    static const std::map<std::string, Method> methods = {
        {"index", [](const Value& l, CallArgs& a) {
             Value needle = a.take(0, "value");
             for (size_t i = 0; i < l.items->size(); ++i)
                 if (equal((*l.items)[i], needle)) return Value::from(static_cast<int64_t>(i));
             eval_fail("ValueError: {} is not in list", to_repr(needle));
         }},
        {"count", [](const Value& l, CallArgs& a) {
             Value needle = a.take(0, "value");
             int64_t n = 0;
             for (const auto& item : *l.items) n += equal(item, needle);
             return Value::from(n);
         }},
    };
    return methods;
}

bool modifies(const Value& self, const std::string& name) {
    static const char* const list_modifiers[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"};
    static const char* const dict_modifiers[] = {"clear", "pop", "popitem", "setdefault", "update"};
    if (self.is_list() && self.seq == Value::Seq::list)
        return std::find(std::begin(list_modifiers), std::end(list_modifiers), name) != std::end(list_modifiers);
    if (self.is_dict())
        return std::find(std::begin(dict_modifiers), std::end(dict_modifiers), name) != std::end(dict_modifiers);
    return false;
}

}  // namespace

Value get_method(const Value& self, const std::string& name) {
    const std::map<std::string, Method>* table = nullptr;
    if (self.is_string()) table = &string_methods();
    else if (self.is_dict()) table = &dict_methods();
    else if (self.is_list() && self.seq != Value::Seq::generator) table = &list_methods();
    if (modifies(self, name))
        return Value::undefined("SecurityError: access to attribute '" + name + "' of '" + type_name(self) +
                                "' object is unsafe.");
    if (!table) return Value::undefined();
    auto it = table->find(name);
    if (it == table->end()) return Value::undefined();
    Method method = it->second;
    return Value::callable(name, [self, method](Interpreter&, CallArgs& args) { return method(self, args); });
}

}  // namespace slm::jinja
