// Python's binary operators and `in` on template values: int/float arithmetic with floor division
// and modulo as Python defines them, str/list concatenation and repetition, Markup-escaping `+`.
#include <cmath>

#include "template/eval_error.h"
#include "template/interpreter.h"

namespace slm::jinja {

namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
    eval_fail("TypeError: unsupported operand type(s) for {}: '{}' and '{}'", op, type_name(a), type_name(b));
}

bool is_sequence(const Value& v) { return v.is_list() && v.seq != Value::Seq::generator; }

int64_t checked(bool overflow, int64_t value) {
    if (overflow) eval_fail("OverflowError: integer result does not fit in 64 bits");
    return value;
}

Value add(Interpreter& in, const Value& a, const Value& b) {
    if (a.is_numeric() && b.is_numeric()) {
        if (a.kind == Value::Kind::number || b.kind == Value::Kind::number) return Value::from(a.as_double() + b.as_double());
        int64_t r = 0;
        bool overflow = __builtin_add_overflow(a.as_int(), b.as_int(), &r);
        return Value::from(checked(overflow, r));
    }
    if (a.is_string() && b.is_string()) {
        in.check_size(a.text.size() + b.text.size());
        in.charge(static_cast<int64_t>((a.text.size() + b.text.size()) / 64));
        if (a.safe || b.safe)  // markupsafe: Markup + str escapes the plain side
            return Value::from((a.safe ? a.text : html_escape(a.text)) + (b.safe ? b.text : html_escape(b.text)), true);
        return Value::from(a.text + b.text);
    }
    if (is_sequence(a) && is_sequence(b) && (a.seq == Value::Seq::tuple) == (b.seq == Value::Seq::tuple)) {
        in.charge(static_cast<int64_t>(a.items->size() + b.items->size()));
        List items = *a.items;
        items.insert(items.end(), b.items->begin(), b.items->end());
        return Value::list(std::move(items), a.seq);
    }
    if (a.is_string() || is_sequence(a))
        eval_fail("TypeError: can only concatenate {} (not \"{}\") to {}", type_name(a), type_name(b), type_name(a));
    unsupported("+", a, b);
}

Value repeat(Interpreter& in, const Value& seq, int64_t times) {
    times = std::max<int64_t>(times, 0);
    if (seq.is_string()) {
        in.check_size(seq.text.size() * static_cast<size_t>(std::min<int64_t>(times, 1 << 30)));
        in.charge(static_cast<int64_t>(seq.text.size()) * times / 64);
        std::string out;
        for (int64_t i = 0; i < times; ++i) out += seq.text;
        return Value::from(std::move(out), seq.safe);
    }
    in.check_size(seq.items->size() * static_cast<size_t>(std::min<int64_t>(times, 1 << 30)));
    in.charge(static_cast<int64_t>(seq.items->size()) * times);
    List items;
    for (int64_t i = 0; i < times; ++i) items.insert(items.end(), seq.items->begin(), seq.items->end());
    return Value::list(std::move(items), seq.seq);
}

Value multiply(Interpreter& in, const Value& a, const Value& b) {
    if (a.is_numeric() && b.is_numeric()) {
        if (a.kind == Value::Kind::number || b.kind == Value::Kind::number) return Value::from(a.as_double() * b.as_double());
        int64_t r = 0;
        bool overflow = __builtin_mul_overflow(a.as_int(), b.as_int(), &r);
        return Value::from(checked(overflow, r));
    }
    if ((a.is_string() || is_sequence(a)) && b.is_integral()) return repeat(in, a, b.as_int());
    if ((b.is_string() || is_sequence(b)) && a.is_integral()) return repeat(in, b, a.as_int());
    unsupported("*", a, b);
}

Value divide(const std::string& op, const Value& a, const Value& b) {
    if (!a.is_numeric() || !b.is_numeric()) unsupported(op, a, b);
    bool is_float = a.kind == Value::Kind::number || b.kind == Value::Kind::number;
    if (b.as_double() == 0.0) {
        if (op == "/") eval_fail("ZeroDivisionError: division by zero");
        if (is_float) eval_fail("ZeroDivisionError: float floor division by zero");
        eval_fail("ZeroDivisionError: integer division or modulo by zero");
    }
    if (op == "/") return Value::from(a.as_double() / b.as_double());
    if (is_float) {
        double x = a.as_double(), y = b.as_double();
        double mod = std::fmod(x, y);
        if (mod != 0.0 && ((mod < 0) != (y < 0))) mod += y;
        if (op == "%") return Value::from(mod);
        double div = (x - mod) / y;  // CPython's float floordiv
        double floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
        return Value::from(floordiv);
    }
    int64_t x = a.as_int(), y = b.as_int();
    if (x == INT64_MIN && y == -1) eval_fail("OverflowError: integer result does not fit in 64 bits");
    int64_t q = x / y, r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) {
        --q;
        r += y;
    }
    return Value::from(op == "%" ? r : q);
}

Value power(const Value& a, const Value& b) {
    if (!a.is_numeric() || !b.is_numeric()) unsupported("** or pow()", a, b);
    if (a.is_integral() && b.is_integral() && b.as_int() >= 0) {
        int64_t base = a.as_int(), exp = b.as_int(), result = 1;
        while (exp-- > 0)
            if (__builtin_mul_overflow(result, base, &result)) eval_fail("OverflowError: integer result does not fit in 64 bits");
        return Value::from(result);
    }
    if (a.as_double() == 0.0 && b.as_double() < 0) eval_fail("ZeroDivisionError: 0.0 cannot be raised to a negative power");
    return Value::from(std::pow(a.as_double(), b.as_double()));
}

}  // namespace

Value binary_operator(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
    if (op == "~") {
        std::string s = to_str(a) + to_str(b);
        in.check_size(s.size());
        in.charge(static_cast<int64_t>(s.size() / 64));
        return Value::from(std::move(s));
    }
    if (a.is_undefined()) undefined_error(a);
    if (b.is_undefined()) undefined_error(b);
    if (op == "+") return add(in, a, b);
    if (op == "*") return multiply(in, a, b);
    if (op == "-") {
        if (!a.is_numeric() || !b.is_numeric()) unsupported("-", a, b);
        if (a.kind == Value::Kind::number || b.kind == Value::Kind::number) return Value::from(a.as_double() - b.as_double());
        int64_t r = 0;
        bool overflow = __builtin_sub_overflow(a.as_int(), b.as_int(), &r);
        return Value::from(checked(overflow, r));
    }
    if (op == "**") return power(a, b);
    if (op == "%" && a.is_string()) eval_fail("TypeError: printf-style string formatting (str % args) is not supported");
    return divide(op, a, b);
}

bool contains(const Value& haystack, const Value& needle) {
    switch (haystack.kind) {
        case Value::Kind::string:
            if (!needle.is_string())
                eval_fail("TypeError: 'in <string>' requires string as left operand, not {}", type_name(needle));
            return haystack.text.find(needle.text) != std::string::npos;
        case Value::Kind::list:
            for (const auto& item : *haystack.items)
                if (equal(item, needle)) return true;
            return false;
        case Value::Kind::dict: return haystack.find(needle) != nullptr;
        case Value::Kind::undefined: return false;
        default: eval_fail("TypeError: argument of type '{}' is not iterable", type_name(haystack));
    }
}

}  // namespace slm::jinja
