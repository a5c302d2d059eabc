// Attribute and item access as jinja2's sandboxed environment resolves them: `obj.name` tries the
// Python attribute (a method) before the item, `obj[key]` the item before the attribute; a miss is
// Undefined, never an error until the Undefined is used.
#include <fmt/format.h>

#include "template/builtins.h"
#include "template/text.h"

namespace slm::jinja {

static std::string missing(const Value& obj, const std::string& what) {
    if (obj.is_none()) return fmt::format("'None' has no {}", what);
    return fmt::format("'{} object' has no {}", type_name(obj), what);
}

Value get_attribute(const Value& obj, const std::string& name) {
    if (obj.kind == Value::Kind::ns) {
        if (const Value* v = obj.find(name)) return *v;
        return Value::undefined(fmt::format("'Namespace object' has no attribute '{}'", name));
    }
    Value method = get_method(obj, name);
    if (!method.is_undefined() || !method.text.empty()) return method;
    if (obj.is_dict())
        if (const Value* v = obj.find(name)) return *v;
    return Value::undefined(missing(obj, fmt::format("attribute '{}'", name)));
}

Value get_item(const Value& obj, const Value& key) {
    switch (obj.kind) {
        case Value::Kind::dict:
            if (const Value* v = obj.find(key)) return *v;
            break;
        case Value::Kind::ns:
            if (key.is_string()) return get_attribute(obj, key.text);
            break;
        case Value::Kind::list:
        case Value::Kind::string:
            if (key.is_integral() && !(obj.is_list() && obj.seq == Value::Seq::generator)) {
                int64_t n = length(obj), i = key.as_int();
                if (i < 0) i += n;
                if (i < 0 || i >= n) return Value::undefined(missing(obj, fmt::format("element {}", key.as_int())));
                if (obj.is_list()) return (*obj.items)[static_cast<size_t>(i)];
                auto cps = text::decode(obj.text);
                std::string s;
                text::append(s, cps[static_cast<size_t>(i)]);
                return Value::from(std::move(s), obj.safe);
            }
            break;
        default: break;
    }
    if (key.is_string()) {
        Value method = get_method(obj, key.text);
        if (!method.is_undefined() || !method.text.empty()) return method;
        return Value::undefined(missing(obj, fmt::format("attribute '{}'", key.text)));
    }
    return Value::undefined(missing(obj, "element " + to_repr(key)));
}

}  // namespace slm::jinja
