// Interpreter: statement execution (output, if, for with loop.*, set, macros, call and filter
// blocks) and expression evaluation. Every failure is an EvalError that carries the line and
// column of the innermost node it passed through.
#include "template/interpreter.h"

#include "template/builtins.h"
#include "template/eval_error.h"
#include "template/text.h"

namespace slm::jinja {

const Value* Scope::lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get())
        for (const auto& [k, v] : s->vars)
            if (k == name) return &v;
    return nullptr;
}

void Scope::assign(const std::string& name, Value value) {
    for (auto& [k, v] : vars)
        if (k == name) {
            v = std::move(value);
            return;
        }
    vars.emplace_back(name, std::move(value));
}

void Interpreter::charge(int64_t cost) {
    steps_ += cost;
    if (steps_ > limits_.max_steps)
        eval_fail("LimitError: template evaluation exceeded {} steps (a loop or recursion too long)", limits_.max_steps);
}

void Interpreter::check_size(size_t bytes) const {
    if (bytes > limits_.max_output) eval_fail("LimitError: template output exceeds {} bytes", limits_.max_output);
}

namespace {
struct CallDepth {
    int& depth;
    CallDepth(int& d, int limit) : depth(d) {
        if (++depth > limit) {
            --depth;
            eval_fail("RecursionError: maximum recursion depth exceeded ({} nested macro calls)", limit);
        }
    }
    ~CallDepth() { --depth; }
};

// Values for `n` targets from one item (`for a, b in …`, `set a, b = …`).
List unpack(const Value& item, size_t n) {
    if (!(item.is_list() || item.is_string() || item.is_dict()))
        eval_fail("TypeError: cannot unpack non-iterable {} object", type_name(item));
    List parts = iterate(item);
    if (parts.size() < n) eval_fail("ValueError: not enough values to unpack (expected {}, got {})", n, parts.size());
    if (parts.size() > n) eval_fail("ValueError: too many values to unpack (expected {})", n);
    return parts;
}

void bind_targets(Scope& scope, const Node& n, const Value& value) {
    if (!n.targets_tuple && n.targets.size() == 1) {
        scope.assign(n.targets[0], value);
        return;
    }
    List parts = unpack(value, n.targets.size());
    for (size_t i = 0; i < n.targets.size(); ++i) scope.assign(n.targets[i], parts[i]);
}

Value slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
    auto index_of = [](const Value& v, const char* what) -> std::optional<int64_t> {
        if (v.is_none() || v.is_undefined()) return std::nullopt;
        if (!v.is_integral()) eval_fail("TypeError: slice {} must be an integer or None", what);
        return v.as_int();
    };
    int64_t step = index_of(step_v, "step").value_or(1);
    if (step == 0) eval_fail("ValueError: slice step cannot be zero");
    bool is_text = obj.is_string();
    std::vector<char32_t> cps;
    const List* items = nullptr;
    if (is_text) {
        cps = text::decode(obj.text);
    } else if (obj.is_list() && obj.seq != Value::Seq::generator) {
        items = obj.items.get();
    } else {
        eval_fail("TypeError: '{}' object is not subscriptable", type_name(obj));
    }
    int64_t n = is_text ? static_cast<int64_t>(cps.size()) : static_cast<int64_t>(items->size());
    auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
        if (!v) return dflt;
        int64_t x = *v < 0 ? *v + n : *v;
        if (step > 0) return std::clamp<int64_t>(x, 0, n);
        return std::clamp<int64_t>(x, -1, n - 1);
    };
    int64_t start = clamp(index_of(start_v, "start"), step > 0 ? 0 : n - 1);
    int64_t stop = clamp(index_of(stop_v, "stop"), step > 0 ? n : -1);
    std::vector<char32_t> out_cps;
    List out_items;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (is_text) out_cps.push_back(cps[static_cast<size_t>(i)]);
        else out_items.push_back((*items)[static_cast<size_t>(i)]);
    }
    if (is_text) return Value::from(text::encode(out_cps));
    return Value::list(std::move(out_items), obj.seq);
}
}  // namespace

std::string Interpreter::render(const Program& program, const Dict& context) {
    root_ = std::make_shared<Scope>();
    for (auto& [name, fn] : global_functions()) root_->assign(name.text, fn);
    for (const auto& [k, v] : context)
        if (k.is_string()) root_->assign(k.text, v);
    std::string out;
    exec(program.body, root_, out);
    root_.reset();
    return out;
}

Interpreter::Flow Interpreter::exec(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const auto& n : body) {
        Flow f;
        try {
            f = exec_node(*n, scope, out);
        } catch (EvalError& e) {
            if (e.line == 0) {
                e.line = n->line;
                e.column = n->column;
            }
            throw;
        }
        if (f != Flow::normal) return f;
    }
    return Flow::normal;
}

Interpreter::Flow Interpreter::exec_node(const Node& n, const ScopePtr& scope, std::string& out) {
    charge(1);
    switch (n.kind) {
        case Node::Kind::text:
            out += n.text;
            check_size(out.size());
            return Flow::normal;
        case Node::Kind::output: {
            Value v = eval(*n.expr, scope);
            std::string s = to_str(v);
            charge(static_cast<int64_t>(s.size() / 64));
            out += s;
            check_size(out.size());
            return Flow::normal;
        }
        case Node::Kind::if_chain:
            for (const auto& [cond, body] : n.branches)
                if (truthy(eval(*cond, scope))) return exec(body, scope, out);
            return exec(n.else_body, scope, out);
        case Node::Kind::for_loop: return exec_for(n, scope, out);
        case Node::Kind::set: exec_set(n, scope, eval(*n.expr, scope)); return Flow::normal;
        case Node::Kind::set_block: {
            auto inner = std::make_shared<Scope>();
            inner->parent = scope;
            std::string captured;
            exec(n.body, inner, captured);
            exec_set(n, scope, apply_filters(n.filters, Value::from(std::move(captured)), scope));
            return Flow::normal;
        }
        case Node::Kind::macro: scope->assign(n.text, make_macro(n, scope, n.text)); return Flow::normal;
        case Node::Kind::call_block: {
            Value callee = eval(*n.expr->operands[0], scope);
            CallArgs args = eval_arguments(*n.expr, 1, scope);
            args.keywords.emplace_back("caller", make_macro(n, scope, "caller"));
            std::string s = to_str(call(callee, args));
            out += s;
            check_size(out.size());
            return Flow::normal;
        }
        case Node::Kind::filter_block: {
            auto inner = std::make_shared<Scope>();
            inner->parent = scope;
            std::string captured;
            exec(n.body, inner, captured);
            out += to_str(apply_filters(n.filters, Value::from(std::move(captured)), scope));
            check_size(out.size());
            return Flow::normal;
        }
        case Node::Kind::scope: return exec(n.body, scope, out);
        case Node::Kind::break_loop: return Flow::break_loop;
        case Node::Kind::continue_loop: return Flow::continue_loop;
    }
    return Flow::normal;
}

Interpreter::Flow Interpreter::exec_for(const Node& n, const ScopePtr& scope, std::string& out) {
    Value iterable = eval(*n.expr, scope);
    List all = iterate(iterable);
    List items;
    if (n.condition) {
        for (const auto& item : all) {
            charge(1);
            auto probe = std::make_shared<Scope>();
            probe->parent = scope;
            bind_targets(*probe, n, item);
            if (truthy(eval(*n.condition, probe))) items.push_back(item);
        }
    } else {
        items = std::move(all);
    }
    if (items.empty()) return exec(n.else_body, scope, out);
    const int64_t count = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < count; ++i) {
        charge(1);
        auto iteration = std::make_shared<Scope>();
        iteration->parent = scope;
        bind_targets(*iteration, n, items[static_cast<size_t>(i)]);
        Dict loop{
            {Value::from("index"), Value::from(i + 1)},
            {Value::from("index0"), Value::from(i)},
            {Value::from("revindex"), Value::from(count - i)},
            {Value::from("revindex0"), Value::from(count - i - 1)},
            {Value::from("first"), Value::from(i == 0)},
            {Value::from("last"), Value::from(i == count - 1)},
            {Value::from("length"), Value::from(count)},
            {Value::from("depth"), Value::from(int64_t{1})},
            {Value::from("depth0"), Value::from(int64_t{0})},
        };
        if (i > 0) loop.emplace_back(Value::from("previtem"), items[static_cast<size_t>(i - 1)]);
        if (i + 1 < count) loop.emplace_back(Value::from("nextitem"), items[static_cast<size_t>(i + 1)]);
        loop.emplace_back(Value::from("cycle"), Value::callable("cycle", [i](Interpreter&, CallArgs& args) {
            if (args.positional.empty()) eval_fail("TypeError: no items for cycling given");
            return args.positional[static_cast<size_t>(i) % args.positional.size()];
        }));
        iteration->assign("loop", Value::ns(std::move(loop)));
        if (exec(n.body, iteration, out) == Flow::break_loop) break;
    }
    return Flow::normal;
}

void Interpreter::exec_set(const Node& n, const ScopePtr& scope, Value value) {
    if (!n.namespace_attribute.empty()) {
        const Value* ns = scope->lookup(n.targets[0]);
        if (!ns || ns->kind != Value::Kind::ns)
            eval_fail("TemplateRuntimeError: cannot assign attribute on non-namespace object '{}'", n.targets[0]);
        Value target = *ns;  // shares the namespace's attributes
        target.set(Value::from(n.namespace_attribute), std::move(value));
        return;
    }
    bind_targets(*scope, n, value);
}

// A macro (or a call block's `caller`): a callable that renders `n.body` in a fresh scope whose
// parent is the scope it was defined in, so it sees that scope's variables as they are at call time.
Value Interpreter::make_macro(const Node& n, const ScopePtr& scope, std::string name) {
    std::weak_ptr<Scope> defining = scope;
    const Node* node = &n;
    return Value::callable(name, [node, defining, name](Interpreter& in, CallArgs& args) {
        CallDepth guard(in.depth_, in.limits_.max_call_depth);
        auto local = std::make_shared<Scope>();
        local->parent = defining.lock();
        if (!local->parent) local->parent = in.root_;
        for (size_t i = 0; i < node->params.size(); ++i) {
            const auto& [param, dflt] = node->params[i];
            Value missing = Value::undefined("parameter '" + param + "' was not provided");
            Value v = args.take(i, param, missing);
            if (v.is_undefined() && v.text == missing.text && dflt) v = in.eval(*dflt, local);
            local->assign(param, std::move(v));
        }
        List varargs;
        for (size_t i = node->params.size(); i < args.positional.size(); ++i) varargs.push_back(args.positional[i]);
        Dict kwargs;
        for (auto& [k, v] : args.keywords) {
            if (k == "caller") local->assign("caller", v);
            else kwargs.emplace_back(Value::from(k), v);
        }
        local->assign("varargs", Value::list(std::move(varargs), Value::Seq::tuple));
        local->assign("kwargs", Value::dict(std::move(kwargs)));
        std::string out;
        in.exec(node->body, local, out);
        return Value::from(std::move(out));  // Markup only under autoescape, which transformers leaves off
    });
}

Value Interpreter::apply_filters(const std::vector<ExprPtr>& filters, Value input, const ScopePtr& scope) {
    for (const auto& f : filters) input = eval_filter(*f, std::move(input), scope);
    return input;
}

Value Interpreter::eval_filter(const Expr& e, Value input, const ScopePtr& scope) {
    CallArgs args = eval_arguments(e, 1, scope);
    return find_filter(e.name)(*this, input, args);
}

CallArgs Interpreter::eval_arguments(const Expr& e, size_t first_operand, const ScopePtr& scope) {
    CallArgs args;
    for (size_t i = first_operand; i < e.operands.size(); ++i) args.positional.push_back(eval(*e.operands[i], scope));
    for (const auto& [k, v] : e.keywords) args.keywords.emplace_back(k, eval(*v, scope));
    return args;
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
    if (callee.kind == Value::Kind::callable) return callee.function->call(*this, args);
    if (callee.is_undefined()) undefined_error(callee);
    eval_fail("TypeError: '{}' object is not callable", type_name(callee));
}

Value Interpreter::eval(const Expr& e, const ScopePtr& scope) {
    charge(1);
    try {
        return eval_inner(e, scope);
    } catch (EvalError& err) {
        if (err.line == 0) {
            err.line = e.line;
            err.column = e.column;
        }
        throw;
    }
}

static bool compare_op(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return equal(a, b);
    if (op == "!=") return !equal(a, b);
    if (op == "in") return contains(b, a);
    if (op == "not in") return !contains(b, a);
    int c = compare(a, b);
    if (op == "<") return c < 0;
    if (op == ">") return c > 0;
    if (op == "<=") return c <= 0;
    return c >= 0;
}

Value Interpreter::eval_inner(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
        case Expr::Kind::literal: return e.literal;
        case Expr::Kind::name: {
            const Value* v = scope->lookup(e.name);
            return v ? *v : Value::undefined("'" + e.name + "' is undefined");
        }
        case Expr::Kind::list:
        case Expr::Kind::tuple: {
            List items;
            for (const auto& op : e.operands) items.push_back(eval(*op, scope));
            return Value::list(std::move(items), e.kind == Expr::Kind::tuple ? Value::Seq::tuple : Value::Seq::list);
        }
        case Expr::Kind::dict: {
            Value d = Value::dict();
            for (size_t i = 0; i + 1 < e.operands.size(); i += 2) {
                Value k = eval(*e.operands[i], scope);
                if (k.is_list() && k.seq != Value::Seq::tuple) eval_fail("TypeError: unhashable type: 'list'");
                if (k.is_dict()) eval_fail("TypeError: unhashable type: 'dict'");
                d.set(k, eval(*e.operands[i + 1], scope));
            }
            return d;
        }
        case Expr::Kind::attribute: {
            Value obj = eval(*e.operands[0], scope);
            if (obj.is_undefined()) undefined_error(obj);
            return get_attribute(obj, e.name);
        }
        case Expr::Kind::subscript: {
            Value obj = eval(*e.operands[0], scope);
            if (obj.is_undefined()) undefined_error(obj);
            return get_item(obj, eval(*e.operands[1], scope));
        }
        case Expr::Kind::slice: {
            Value obj = eval(*e.operands[0], scope);
            if (obj.is_undefined()) undefined_error(obj);
            auto part = [&](size_t i) { return e.operands[i] ? eval(*e.operands[i], scope) : Value::none(); };
            return slice(obj, part(1), part(2), part(3));
        }
        case Expr::Kind::call: {
            Value callee = eval(*e.operands[0], scope);
            CallArgs args = eval_arguments(e, 1, scope);
            return call(callee, args);
        }
        case Expr::Kind::filter: return eval_filter(e, eval(*e.operands[0], scope), scope);
        case Expr::Kind::test: {
            Value input = eval(*e.operands[0], scope);
            CallArgs args = eval_arguments(e, 1, scope);
            return Value::from(find_test(e.name)(*this, input, args) != e.negated);
        }
        case Expr::Kind::unary: {
            Value v = eval(*e.operands[0], scope);
            if (e.name == "not") return Value::from(!truthy(v));
            if (v.is_undefined()) undefined_error(v);
            if (!v.is_numeric()) eval_fail("TypeError: bad operand type for unary {}: '{}'", e.name, type_name(v));
            if (e.name == "+") return v.kind == Value::Kind::boolean ? Value::from(v.as_int()) : v;
            if (v.kind == Value::Kind::number) return Value::from(-v.number);
            return Value::from(-v.as_int());
        }
        case Expr::Kind::binary: {
            if (e.name == "and" || e.name == "or") {
                Value lhs = eval(*e.operands[0], scope);
                if (truthy(lhs) == (e.name == "or")) return lhs;
                return eval(*e.operands[1], scope);
            }
            Value lhs = eval(*e.operands[0], scope);
            Value rhs = eval(*e.operands[1], scope);
            return binary_operator(*this, e.name, lhs, rhs);
        }
        case Expr::Kind::compare: {
            Value lhs = eval(*e.operands[0], scope);
            for (size_t i = 0; i < e.ops.size(); ++i) {
                Value rhs = eval(*e.operands[i + 1], scope);
                if (!compare_op(e.ops[i], lhs, rhs)) return Value::from(false);
                lhs = std::move(rhs);
            }
            return Value::from(true);
        }
        case Expr::Kind::conditional:
            if (truthy(eval(*e.operands[1], scope))) return eval(*e.operands[0], scope);
            if (e.operands[2]) return eval(*e.operands[2], scope);
            return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    }
    return Value::undefined();
}

}  // namespace slm::jinja
