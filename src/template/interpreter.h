// Interpreter: renders a parsed Program against a context, with jinja2's scoping (a for-loop body
// and a macro call get their own scope, `if` does not) and hard bounds on work, output and depth.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <slm/jinja.h>

#include "template/ast.h"
#include "template/value.h"

namespace slm::jinja {

struct Scope {
    std::vector<std::pair<std::string, Value>> vars;
    std::shared_ptr<Scope> parent;

    const Value* lookup(const std::string& name) const;
    void assign(const std::string& name, Value value);
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
public:
    explicit Interpreter(Limits limits) : limits_(limits) {}

    // Renders `program` with `context` (plus the global functions) as its variables.
    std::string render(const Program& program, const Dict& context);

    Value eval(const Expr& e, const ScopePtr& scope);
    // Calls a callable value (macro, global, bound method); throws for anything else.
    Value call(const Value& callee, CallArgs& args);
    // Spends `cost` steps of the budget; throws once it is exhausted.
    void charge(int64_t cost);
    void check_size(size_t bytes) const;
    const Limits& limits() const { return limits_; }

private:
    enum class Flow { normal, break_loop, continue_loop };

    Limits limits_;
    int64_t steps_ = 0;
    int depth_ = 0;
    ScopePtr root_;

    Flow exec(const Body& body, const ScopePtr& scope, std::string& out);
    Flow exec_node(const Node& n, const ScopePtr& scope, std::string& out);
    Flow exec_for(const Node& n, const ScopePtr& scope, std::string& out);
    void exec_set(const Node& n, const ScopePtr& scope, Value value);
    Value make_macro(const Node& n, const ScopePtr& scope, std::string name);
    Value apply_filters(const std::vector<ExprPtr>& filters, Value input, const ScopePtr& scope);
    Value eval_filter(const Expr& e, Value input, const ScopePtr& scope);
    CallArgs eval_arguments(const Expr& e, size_t first_operand, const ScopePtr& scope);
    Value eval_inner(const Expr& e, const ScopePtr& scope);

    friend struct DepthGuard;
};

// Python's binary operators on values (+ - * / // % ** ~), as jinja2 evaluates them.
Value binary_operator(Interpreter& in, const std::string& op, const Value& a, const Value& b);
// `needle in haystack` with Python's rules.
bool contains(const Value& haystack, const Value& needle);

}  // namespace slm::jinja
