// The tests (`value is name(args)`), as jinja2 3.1 defines them: type tests follow Python's
// isinstance (a bool is a number but not an integer), comparison tests follow Python's operators.
#include <map>

#include "template/builtins.h"
#include "template/eval_error.h"
#include "template/interpreter.h"
#include "template/text.h"

namespace slm::jinja {

namespace {

Value arg0(CallArgs& args) {
    if (args.positional.empty() && args.keywords.empty()) eval_fail("TypeError: test is missing its argument");
    return args.positional.empty() ? args.keywords[0].second : args.positional[0];
}

int64_t integer_of(const Value& v, const char* test) {
    if (!v.is_integral()) eval_fail("TypeError: the '{}' test needs an integer, got {}", test, type_name(v));
    return v.as_int();
}

bool is_sequence(const Value& v) {
    return v.is_string() || v.is_dict() || v.is_undefined() || (v.is_list() && v.seq != Value::Seq::generator);
}

bool case_is(const Value& v, bool upper) {
    std::string s = to_str(v);
    bool cased = false;
    for (char32_t c : text::decode(s)) {
        bool is_upper = text::to_lower(c) != c, is_lower = text::to_upper(c) != c;
        if (upper ? is_lower : is_upper) return false;
        cased = cased || is_upper || is_lower;
    }
    return cased;
}

bool same_as(const Value& a, const Value& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case Value::Kind::list: return a.items == b.items;
        case Value::Kind::dict:
        case Value::Kind::ns: return a.entries == b.entries;
        case Value::Kind::callable: return a.function == b.function;
        default: return equal(a, b);
    }
}

#define SLM_TEST(body) [](Interpreter&, const Value& v, CallArgs& args) -> bool { (void)args; body }

const std::map<std::string, TestFn>& tests() {
    static const TestFn eq = SLM_TEST(return equal(v, arg0(args)););
    static const TestFn ne = SLM_TEST(return !equal(v, arg0(args)););
    static const TestFn lt = SLM_TEST(return compare(v, arg0(args)) < 0;);
    static const TestFn le = SLM_TEST(return compare(v, arg0(args)) <= 0;);
    static const TestFn gt = SLM_TEST(return compare(v, arg0(args)) > 0;);
    static const TestFn ge = SLM_TEST(return compare(v, arg0(args)) >= 0;);
    static const std::map<std::string, TestFn> table = {
        {"defined", SLM_TEST(return !v.is_undefined();)},
        {"undefined", SLM_TEST(return v.is_undefined();)},
        {"none", SLM_TEST(return v.is_none();)},
        {"string", SLM_TEST(return v.is_string();)},
        {"number", SLM_TEST(return v.is_numeric();)},
        {"integer", SLM_TEST(return v.kind == Value::Kind::integer;)},
        {"float", SLM_TEST(return v.kind == Value::Kind::number;)},
        {"boolean", SLM_TEST(return v.kind == Value::Kind::boolean;)},
        {"true", SLM_TEST(return v.kind == Value::Kind::boolean && v.boolean;)},
        {"false", SLM_TEST(return v.kind == Value::Kind::boolean && !v.boolean;)},
        {"mapping", SLM_TEST(return v.is_dict();)},
        {"iterable", SLM_TEST(return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();)},
        {"sequence", SLM_TEST(return is_sequence(v);)},
        {"callable", SLM_TEST(return v.kind == Value::Kind::callable;)},
        {"odd", SLM_TEST(return (integer_of(v, "odd") % 2 + 2) % 2 == 1;)},
        {"even", SLM_TEST(return integer_of(v, "even") % 2 == 0;)},
        {"divisibleby", SLM_TEST({
             int64_t d = integer_of(arg0(args), "divisibleby");
             if (d == 0) eval_fail("ZeroDivisionError: integer division or modulo by zero");
             return integer_of(v, "divisibleby") % d == 0;
         })},
        {"lower", SLM_TEST(return case_is(v, false);)},
        {"upper", SLM_TEST(return case_is(v, true);)},
        {"in", SLM_TEST(return contains(arg0(args), v);)},
        {"sameas", SLM_TEST(return same_as(v, arg0(args));)},
        {"escaped", SLM_TEST(return v.is_string() && v.safe;)},
        {"eq", eq}, {"equalto", eq}, {"==", eq},
        {"ne", ne}, {"!=", ne},
        {"lt", lt}, {"lessthan", lt}, {"<", lt},
        {"le", le}, {"<=", le},
        {"gt", gt}, {"greaterthan", gt}, {">", gt},
        {"ge", ge}, {">=", ge},
    };
    return table;
}

#undef SLM_TEST

}  // namespace

TestFn find_test(const std::string& name) {
    auto it = tests().find(name);
    return it == tests().end() ? nullptr : it->second;
}

}  // namespace slm::jinja
