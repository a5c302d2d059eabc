// Value: what a Jinja expression evaluates to, with Python's semantics (the reference renderer is
// jinja2 on CPython): truthiness, equality and ordering, str() and repr(), and Jinja's Undefined.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace slm::jinja {

struct Value;
struct CallArgs;
class Interpreter;

using List = std::vector<Value>;
using Dict = std::vector<std::pair<Value, Value>>;  // insertion-ordered, as Python's dict
using Function = std::function<Value(Interpreter&, CallArgs&)>;

struct Callable {
    std::string name;
    Function call;
};

struct Value {
    enum class Kind { undefined, none, boolean, integer, number, string, list, dict, callable, ns };
    // A list is a Python list, a tuple (printed in parentheses) or a one-shot generator (what
    // jinja2's map/select/items filters return: iterable, but no len(), no tojson, no index).
    enum class Seq { list, tuple, generator };

    Kind kind = Kind::undefined;
    Seq seq = Seq::list;
    bool safe = false;  // a string marked safe (markupsafe.Markup): `+` escapes the other side
    bool boolean = false;
    int64_t integer = 0;
    double number = 0.0;
    std::string text;  // a string's UTF-8 bytes; for undefined, the name that was looked up
    std::shared_ptr<List> items;
    std::shared_ptr<Dict> entries;  // dict entries, or a namespace's attributes
    std::shared_ptr<const Callable> function;

    static Value undefined(std::string name = {});
    static Value none();
    static Value from(bool b);
    static Value from(int64_t i);
    static Value from(int i) { return from(static_cast<int64_t>(i)); }
    static Value from(double d);
    static Value from(std::string s, bool safe = false);
    static Value from(const char* s) { return from(std::string(s)); }
    static Value list(List items = {}, Seq seq = Seq::list);
    static Value dict(Dict entries = {});
    static Value ns(Dict attributes = {});
    static Value callable(std::string name, Function call);

    bool is_undefined() const { return kind == Kind::undefined; }
    bool is_none() const { return kind == Kind::none; }
    bool is_string() const { return kind == Kind::string; }
    bool is_list() const { return kind == Kind::list; }
    bool is_dict() const { return kind == Kind::dict; }
    bool is_numeric() const { return kind == Kind::boolean || kind == Kind::integer || kind == Kind::number; }
    bool is_integral() const { return kind == Kind::boolean || kind == Kind::integer; }
    int64_t as_int() const { return kind == Kind::boolean ? (boolean ? 1 : 0) : integer; }
    double as_double() const { return kind == Kind::number ? number : static_cast<double>(as_int()); }

    // Dict / namespace lookup by key (Python equality); nullptr when absent.
    const Value* find(const Value& key) const;
    const Value* find(const std::string& key) const;
    void set(const Value& key, Value value);  // insert or replace, keeping the first insertion's place
};

// Positional and keyword arguments of a call.
struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keywords;

    // The argument at `index` or named `name` (taking it out of the keywords), or `fallback`.
    Value take(size_t index, const std::string& name, Value fallback = Value::undefined());
};

// Python type name, as in TypeError messages: 'str', 'int', 'NoneType', 'list', 'dict', …
std::string type_name(const Value& v);
bool truthy(const Value& v);
bool equal(const Value& a, const Value& b);
// <0, 0, >0 as Python's ordering; throws TypeError-like slm::Error for unorderable types.
int compare(const Value& a, const Value& b);
std::string to_str(const Value& v);   // str(v)
std::string to_repr(const Value& v);  // repr(v)
std::string float_repr(double d);     // Python's repr of a float: 1.0, 0.1, 1e+16, 1.5e-07
// Items of an iterable (str → characters, dict → keys, undefined → none); throws for others.
List iterate(const Value& v);
// len(v); throws for values without a length.
int64_t length(const Value& v);

// UndefinedError for an operation on an undefined value (its text says what was undefined).
[[noreturn]] void undefined_error(const Value& v);

// markupsafe.escape: & < > ' " as HTML entities.
std::string html_escape(const std::string& s);

}  // namespace slm::jinja
