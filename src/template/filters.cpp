// The filters (`value|name(args)`), each as jinja2 3.1 defines it with autoescape off; map, select,
// reject, selectattr, rejectattr, items, batch, unique and reverse return one-shot generators as
// jinja2's do, so `|tojson` or `|length` on them fails exactly where jinja2 fails.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "template/builtins.h"
#include "template/eval_error.h"
#include "template/interpreter.h"
#include "template/json_value.h"
#include "template/text.h"

namespace slm::jinja {

namespace {

Value generator(List items) { return Value::list(std::move(items), Value::Seq::generator); }

// jinja2's make_attrgetter: "a.b.0" looks up each part with item-first access.
Value attribute_path(const Value& item, const Value& path, const Value& fallback) {
    Value v = item;
    std::vector<std::string> parts = path.is_string() ? text::split(path.text, std::string("."), -1)
                                                      : std::vector<std::string>{to_str(path)};
    for (const auto& part : parts) {
        bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
        if (v.is_undefined()) break;
        v = get_item(v, digits ? Value::from(static_cast<int64_t>(std::stoll(part))) : Value::from(part));
    }
    if (v.is_undefined() && !fallback.is_undefined()) return fallback;
    return v;
}

// Sort / unique key: strings lowered unless case_sensitive.
Value fold_case(const Value& v, bool case_sensitive) {
    return !case_sensitive && v.is_string() ? Value::from(text::lower(v.text)) : v;
}

bool flag(CallArgs& args, size_t index, const char* name, bool fallback) {
    Value v = args.take(index, name, Value::from(fallback));
    return truthy(v);
}

Value filter_default(Interpreter&, const Value& in, CallArgs& args) {
    Value fallback = args.take(0, "default_value", Value::from(""));
    bool boolean = flag(args, 1, "boolean", false);
    if (in.is_undefined() || (boolean && !truthy(in))) return fallback;
    return in;
}

Value filter_trim(Interpreter&, const Value& in, CallArgs& args) {
    Value chars = args.take(0, "chars", Value::none());
    std::optional<std::string> set;
    if (chars.is_string()) set = chars.text;
    return Value::from(text::strip(to_str(in), set, true, true), in.safe);
}

Value filter_tojson(Interpreter& interp, const Value& in, CallArgs& args) {
    JsonDumpOptions options;
    options.ensure_ascii = truthy(args.take(99, "ensure_ascii", Value::from(false)));
    Value indent = args.take(0, "indent", Value::none());
    if (indent.is_integral()) options.indent = std::string(static_cast<size_t>(std::max<int64_t>(indent.as_int(), 0)), ' ');
    else if (indent.is_string()) options.indent = indent.text;
    if (options.indent) options.item_separator = ",";
    Value separators = args.take(99, "separators", Value::none());
    if (separators.is_list() && separators.items->size() == 2) {
        options.item_separator = to_str((*separators.items)[0]);
        options.key_separator = to_str((*separators.items)[1]);
    }
    options.sort_keys = truthy(args.take(99, "sort_keys", Value::from(false)));
    std::string out = json_dumps(in, options);
    interp.check_size(out.size());
    return Value::from(std::move(out));
}

Value filter_join(Interpreter&, const Value& in, CallArgs& args) {
    std::string sep = to_str(args.take(0, "d", Value::from("")));
    Value attribute = args.take(1, "attribute", Value::none());
    std::string out;
    bool first = true;
    for (const auto& item : iterate(in)) {
        if (!first) out += sep;
        first = false;
        out += to_str(attribute.is_none() ? item : attribute_path(item, attribute, Value::undefined()));
    }
    return Value::from(std::move(out));
}

Value filter_replace(Interpreter& interp, const Value& in, CallArgs& args) {
    std::string from = to_str(args.take(0, "old")), to = to_str(args.take(1, "new"));
    Value count = args.take(2, "count", Value::none());
    std::string out = text::replace(to_str(in), from, to, count.is_integral() ? count.as_int() : -1);
    interp.check_size(out.size());
    return Value::from(std::move(out));
}

Value filter_items(Interpreter&, const Value& in, CallArgs&) {
    if (in.is_undefined()) return generator({});
    if (!in.is_dict()) eval_fail("TypeError: Can only get item pairs from a mapping.");
    List items;
    for (const auto& [k, v] : *in.entries) items.push_back(Value::list({k, v}, Value::Seq::tuple));
    return generator(std::move(items));
}

Value filter_first(Interpreter&, const Value& in, CallArgs&) {
    List items = iterate(in);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value filter_last(Interpreter&, const Value& in, CallArgs&) {
    if (in.is_list() && in.seq == Value::Seq::generator) eval_fail("TypeError: 'generator' object is not reversible");
    if (in.is_dict()) eval_fail("TypeError: 'dict' object is not reversible");
    List items = iterate(in);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

// select / reject / selectattr / rejectattr share one body: pick items by a test (or truthiness).
Value select_items(Interpreter& interp, const Value& in, CallArgs& args, bool by_attribute, bool keep) {
    size_t next = 0;
    Value attribute = by_attribute ? args.positional.at(next++) : Value::none();
    TestFn test = nullptr;
    if (next < args.positional.size()) {
        std::string name = to_str(args.positional[next++]);
        test = find_test(name);
        if (!test) eval_fail("TemplateRuntimeError: No test named '{}'", name);
    }
    CallArgs test_args;
    test_args.positional.assign(args.positional.begin() + static_cast<long>(next), args.positional.end());
    List out;
    if (!truthy(in)) return generator({});  // jinja2: `if value:` guards the loop, so none gives nothing
    for (const auto& item : iterate(in)) {
        Value probe = by_attribute ? attribute_path(item, attribute, Value::undefined()) : item;
        CallArgs a = test_args;
        bool pass = test ? test(interp, probe, a) : truthy(probe);
        if (pass == keep) out.push_back(item);
    }
    return generator(std::move(out));
}

Value filter_select(Interpreter& i, const Value& in, CallArgs& a) { return select_items(i, in, a, false, true); }
Value filter_reject(Interpreter& i, const Value& in, CallArgs& a) { return select_items(i, in, a, false, false); }
Value filter_selectattr(Interpreter& i, const Value& in, CallArgs& a) { return select_items(i, in, a, true, true); }
Value filter_rejectattr(Interpreter& i, const Value& in, CallArgs& a) { return select_items(i, in, a, true, false); }

Value filter_map(Interpreter& interp, const Value& in, CallArgs& args) {
    List out;
    if (!truthy(in)) return generator({});  // jinja2: `if value:` guards the loop, so none gives nothing
    Value attribute = args.take(99, "attribute", Value::none());
    if (!attribute.is_none()) {
        Value fallback = args.take(99, "default", Value::undefined());
        for (const auto& item : iterate(in)) out.push_back(attribute_path(item, attribute, fallback));
        return generator(std::move(out));
    }
    if (args.positional.empty()) eval_fail("FilterArgumentError: map requires a filter argument");
    std::string name = to_str(args.positional[0]);
    FilterFn filter = find_filter(name);
    if (!filter) eval_fail("TemplateRuntimeError: No filter named '{}'", name);
    CallArgs rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keywords = args.keywords;
    for (const auto& item : iterate(in)) {
        CallArgs a = rest;
        out.push_back(filter(interp, item, a));
    }
    return generator(std::move(out));
}

Value filter_list(Interpreter&, const Value& in, CallArgs&) { return Value::list(iterate(in)); }

Value filter_string(Interpreter&, const Value& in, CallArgs&) { return in.is_string() ? in : Value::from(to_str(in)); }

Value filter_int(Interpreter&, const Value& in, CallArgs& args) {
    Value fallback = args.take(0, "default", Value::from(int64_t{0}));
    if (in.is_integral()) return Value::from(in.as_int());
    if (in.kind == Value::Kind::number) {
        if (!std::isfinite(in.number)) return fallback;
        return Value::from(static_cast<int64_t>(in.number));
    }
    if (in.is_string()) {
        std::string s = text::strip(in.text, std::nullopt, true, true);
        char* end = nullptr;
        errno = 0;
        long long v = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && *end == 0 && errno == 0) return Value::from(static_cast<int64_t>(v));
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && *end == 0 && std::isfinite(d)) return Value::from(static_cast<int64_t>(d));
    }
    return fallback;
}

Value filter_float(Interpreter&, const Value& in, CallArgs& args) {
    Value fallback = args.take(0, "default", Value::from(0.0));
    if (in.is_numeric()) return Value::from(in.as_double());
    if (in.is_string()) {
        std::string s = text::strip(in.text, std::nullopt, true, true);
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && *end == 0) return Value::from(d);
    }
    return fallback;
}

Value filter_abs(Interpreter&, const Value& in, CallArgs&) {
    if (in.kind == Value::Kind::number) return Value::from(std::fabs(in.number));
    if (in.is_integral()) return Value::from(in.as_int() < 0 ? -in.as_int() : in.as_int());
    eval_fail("TypeError: bad operand type for abs(): '{}'", type_name(in));
}

Value filter_round(Interpreter&, const Value& in, CallArgs& args) {
    int64_t precision = args.take(0, "precision", Value::from(int64_t{0})).as_int();
    std::string method = to_str(args.take(1, "method", Value::from("common")));
    if (!in.is_numeric()) eval_fail("TypeError: type {} doesn't define __round__ method", type_name(in));
    if (method == "common") {
        if (in.is_integral()) return Value::from(in.as_int());
        // printf rounds the exact binary value half-to-even, as CPython's round() does
        char buf[512];
        std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::clamp<int64_t>(precision, 0, 300)), in.number);
        return Value::from(std::strtod(buf, nullptr));
    }
    if (method != "ceil" && method != "floor") eval_fail("FilterArgumentError: method must be common, ceil or floor");
    double scale = std::pow(10.0, static_cast<double>(precision));
    double x = in.as_double() * scale;
    return Value::from((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value filter_unique(Interpreter&, const Value& in, CallArgs& args) {
    bool case_sensitive = flag(args, 0, "case_sensitive", false);
    Value attribute = args.take(1, "attribute", Value::none());
    List seen, out;
    for (const auto& item : iterate(in)) {
        Value key = fold_case(attribute.is_none() ? item : attribute_path(item, attribute, Value::undefined()), case_sensitive);
        if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, key); })) {
            seen.push_back(key);
            out.push_back(item);
        }
    }
    return generator(std::move(out));
}

Value filter_sort(Interpreter&, const Value& in, CallArgs& args) {
    bool reverse = flag(args, 0, "reverse", false);
    bool case_sensitive = flag(args, 1, "case_sensitive", false);
    Value attribute = args.take(2, "attribute", Value::none());
    List items = iterate(in);
    auto key = [&](const Value& v) {
        return fold_case(attribute.is_none() ? v : attribute_path(v, attribute, Value::undefined()), case_sensitive);
    };
    std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
        return reverse ? compare(key(b), key(a)) < 0 : compare(key(a), key(b)) < 0;
    });
    return Value::list(std::move(items));
}

Value filter_dictsort(Interpreter&, const Value& in, CallArgs& args) {
    bool case_sensitive = flag(args, 0, "case_sensitive", false);
    std::string by = to_str(args.take(1, "by", Value::from("key")));
    bool reverse = flag(args, 2, "reverse", false);
    if (!in.is_dict()) eval_fail("TypeError: can only dictsort a mapping");
    List items;
    for (const auto& [k, v] : *in.entries) items.push_back(Value::list({k, v}, Value::Seq::tuple));
    size_t part = by == "value" ? 1 : 0;
    std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
        Value ka = fold_case((*a.items)[part], case_sensitive), kb = fold_case((*b.items)[part], case_sensitive);
        return reverse ? compare(kb, ka) < 0 : compare(ka, kb) < 0;
    });
    return Value::list(std::move(items));
}

Value filter_reverse(Interpreter&, const Value& in, CallArgs&) {
    if (in.is_string()) {
        auto cps = text::decode(in.text);
        std::reverse(cps.begin(), cps.end());
        return Value::from(text::encode(cps), in.safe);
    }
    List items = iterate(in);
    std::reverse(items.begin(), items.end());
    return generator(std::move(items));
}

Value min_max(const Value& in, CallArgs& args, bool want_max) {
    bool case_sensitive = flag(args, 0, "case_sensitive", false);
    Value attribute = args.take(1, "attribute", Value::none());
    List items = iterate(in);
    if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
    auto key = [&](const Value& v) {
        return fold_case(attribute.is_none() ? v : attribute_path(v, attribute, Value::undefined()), case_sensitive);
    };
    const Value* best = &items[0];
    for (const auto& item : items) {
        int c = compare(key(item), key(*best));
        if (want_max ? c > 0 : c < 0) best = &item;
    }
    return *best;
}

Value filter_max(Interpreter&, const Value& in, CallArgs& a) { return min_max(in, a, true); }
Value filter_min(Interpreter&, const Value& in, CallArgs& a) { return min_max(in, a, false); }

Value filter_sum(Interpreter& interp, const Value& in, CallArgs& args) {
    Value attribute = args.take(0, "attribute", Value::none());
    Value total = args.take(1, "start", Value::from(int64_t{0}));
    for (const auto& item : iterate(in))
        total = binary_operator(interp, "+", total, attribute.is_none() ? item : attribute_path(item, attribute, Value::undefined()));
    return total;
}

Value filter_indent(Interpreter& interp, const Value& in, CallArgs& args) {
    Value width = args.take(0, "width", Value::from(int64_t{4}));
    bool first = flag(args, 1, "first", false), blank = flag(args, 2, "blank", false);
    std::string indention = width.is_string() ? width.text : std::string(static_cast<size_t>(std::clamp<int64_t>(width.as_int(), 0, 1 << 20)), ' ');
    std::string source = to_str(in);
    source.push_back('\n');  // jinja2 appends a newline before splitlines()
    std::vector<std::string> lines = text::splitlines(source);
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) out += "\n";
        if (i > 0 && (blank || !lines[i].empty())) out += indention;
        out += lines[i];
        interp.check_size(out.size());
    }
    if (first) out.insert(0, indention);
    return Value::from(std::move(out), in.safe);
}

Value filter_escape(Interpreter&, const Value& in, CallArgs&) {
    if (in.is_string() && in.safe) return in;
    return Value::from(html_escape(to_str(in)), true);
}

Value filter_safe(Interpreter&, const Value& in, CallArgs&) { return Value::from(to_str(in), true); }

Value filter_wordcount(Interpreter&, const Value& in, CallArgs&) {
    int64_t words = 0;
    bool in_word = false;
    for (char32_t c : text::decode(to_str(in))) {
        bool word_char = text::is_alnum(c) || c == '_';
        words += word_char && !in_word;
        in_word = word_char;
    }
    return Value::from(words);
}

Value filter_batch(Interpreter&, const Value& in, CallArgs& args) {
    int64_t size = args.take(0, "linecount").as_int();
    if (size <= 0) eval_fail("ValueError: batch size must be positive");
    Value fill = args.take(1, "fill_with", Value::none());
    List out, row;
    for (const auto& item : iterate(in)) {
        row.push_back(item);
        if (static_cast<int64_t>(row.size()) == size) {
            out.push_back(Value::list(std::move(row)));
            row.clear();
        }
    }
    if (!row.empty()) {
        if (!fill.is_none())
            while (static_cast<int64_t>(row.size()) < size) row.push_back(fill);
        out.push_back(Value::list(std::move(row)));
    }
    return generator(std::move(out));
}

Value filter_attr(Interpreter&, const Value& in, CallArgs& args) {
    if (in.is_undefined()) undefined_error(in);
    return get_attribute(in, to_str(args.take(0, "name")));
}

const std::map<std::string, FilterFn>& filters() {
    static const std::map<std::string, FilterFn> table = {
        {"abs", filter_abs},
        {"attr", filter_attr},
        {"batch", filter_batch},
        {"capitalize", [](Interpreter&, const Value& in, CallArgs&) { return Value::from(text::capitalize(to_str(in)), in.safe); }},
        {"count", [](Interpreter&, const Value& in, CallArgs&) { return Value::from(length(in)); }},
        {"d", filter_default},
        {"default", filter_default},
        {"dictsort", filter_dictsort},
        {"e", filter_escape},
        {"escape", filter_escape},
        {"first", filter_first},
        {"float", filter_float},
        {"indent", filter_indent},
        {"int", filter_int},
        {"items", filter_items},
        {"join", filter_join},
        {"last", filter_last},
        {"length", [](Interpreter&, const Value& in, CallArgs&) { return Value::from(length(in)); }},
        {"list", filter_list},
        {"lower", [](Interpreter&, const Value& in, CallArgs&) { return Value::from(text::lower(to_str(in)), in.safe); }},
        {"map", filter_map},
        {"max", filter_max},
        {"min", filter_min},
        {"reject", filter_reject},
        {"rejectattr", filter_rejectattr},
        {"replace", filter_replace},
        {"reverse", filter_reverse},
        {"round", filter_round},
        {"safe", filter_safe},
        {"select", filter_select},
        {"selectattr", filter_selectattr},
        {"sort", filter_sort},
        {"string", filter_string},
        {"sum", filter_sum},
        {"title", [](Interpreter&, const Value& in, CallArgs&) { return Value::from(text::title_filter(to_str(in))); }},
        {"tojson", filter_tojson},
        {"trim", filter_trim},
        {"unique", filter_unique},
        {"upper", [](Interpreter&, const Value& in, CallArgs&) { return Value::from(text::upper(to_str(in)), in.safe); }},
        {"wordcount", filter_wordcount},
    };
    return table;
}

}  // namespace

FilterFn find_filter(const std::string& name) {
    auto it = filters().find(name);
    return it == filters().end() ? nullptr : it->second;
}

}  // namespace slm::jinja
