// The built-in filters, tests and global functions, looked up by name; and attribute / item access
// with jinja2's rules (attribute first for `.`, item first for `[]`, str/dict/list methods).
#pragma once

#include <string>

#include "template/value.h"

namespace slm::jinja {

using FilterFn = Value (*)(Interpreter&, const Value& input, CallArgs& args);
using TestFn = bool (*)(Interpreter&, const Value& input, CallArgs& args);

FilterFn find_filter(const std::string& name);  // nullptr when unknown
TestFn find_test(const std::string& name);      // nullptr when unknown

// `obj.name` and `obj[key]` as the sandboxed jinja2 environment resolves them.
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
// A str / dict / list method bound to `self`, or undefined when `self` has no such method.
Value get_method(const Value& self, const std::string& name);

// The functions every template sees: range, dict, namespace, raise_exception, strftime_now.
Dict global_functions();

}  // namespace slm::jinja
