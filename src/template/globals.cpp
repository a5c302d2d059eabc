// The global functions of a chat-template environment: jinja2's range (capped as its sandbox caps
// it), dict and namespace, plus transformers' raise_exception and strftime_now.
#include <ctime>

#include "template/builtins.h"
#include "template/eval_error.h"
#include "template/interpreter.h"

namespace slm::jinja {

namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

Value range(Interpreter& in, CallArgs& args) {
    std::vector<int64_t> bounds;
    for (const auto& a : args.positional) {
        if (!a.is_integral()) eval_fail("TypeError: '{}' object cannot be interpreted as an integer", type_name(a));
        bounds.push_back(a.as_int());
    }
    if (bounds.empty() || bounds.size() > 3) eval_fail("TypeError: range expected 1 to 3 arguments, got {}", bounds.size());
    int64_t start = bounds.size() == 1 ? 0 : bounds[0];
    int64_t stop = bounds.size() == 1 ? bounds[0] : bounds[1];
    int64_t step = bounds.size() == 3 ? bounds[2] : 1;
    if (step == 0) eval_fail("ValueError: range() arg 3 must not be zero");
    List items;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (static_cast<int64_t>(items.size()) >= kMaxRange)
            eval_fail("OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE ({}).", kMaxRange);
        items.push_back(Value::from(i));
    }
    in.charge(static_cast<int64_t>(items.size()));
    return Value::list(std::move(items));
}

Dict keyword_entries(CallArgs& args) {
    Dict entries;
    for (auto& [k, v] : args.keywords) entries.emplace_back(Value::from(k), v);
    return entries;
}

Value make_dict(Interpreter&, CallArgs& args) {
    Value d = Value::dict();
    for (const auto& a : args.positional) {
        if (!a.is_dict()) eval_fail("TypeError: dict() positional argument must be a mapping here");
        for (const auto& [k, v] : *a.entries) d.set(k, v);
    }
    for (auto& [k, v] : keyword_entries(args)) d.set(k, v);
    return d;
}

Value make_namespace(Interpreter& in, CallArgs& args) {
    Value d = make_dict(in, args);
    return Value::ns(*d.entries);
}

Value raise_exception(Interpreter&, CallArgs& args) {
    std::string message = args.positional.empty() ? std::string() : to_str(args.positional[0]);
    throw EvalError{"TemplateError: " + message};
}

Value strftime_now(Interpreter&, CallArgs& args) {
    if (args.positional.empty() || !args.positional[0].is_string())
        eval_fail("TypeError: strftime_now() needs a format string");
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[512];
    size_t n = std::strftime(buf, sizeof buf, args.positional[0].text.c_str(), &local);
    return Value::from(std::string(buf, n));
}

}  // namespace

Dict global_functions() {
    return {
        {Value::from("range"), Value::callable("range", range)},
        {Value::from("dict"), Value::callable("dict", make_dict)},
        {Value::from("namespace"), Value::callable("namespace", make_namespace)},
        {Value::from("raise_exception"), Value::callable("raise_exception", raise_exception)},
        {Value::from("strftime_now"), Value::callable("strftime_now", strftime_now)},
    };
}

}  // namespace slm::jinja
