// The parsed template: expression nodes (Expr) and statement nodes (Node), each with the template
// line and column where it starts, so evaluation errors can name the place.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/value.h"

namespace slm::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        literal,      // literal
        name,         // name
        list,         // operands
        tuple,        // operands
        dict,         // operands: key, value, key, value, …
        attribute,    // operands[0].name
        subscript,    // operands[0][operands[1]]
        slice,        // operands[0][operands[1]:operands[2]:operands[3]] (null parts allowed)
        call,         // operands[0](operands[1…], keywords)
        filter,       // operands[0] | name(operands[1…], keywords); operands[0] null in filter blocks
        test,         // operands[0] is [not] name(operands[1…], keywords)
        unary,        // name: "-", "+" or "not"; operands[0]
        binary,       // name: + - * / // % ** ~ and or in "not in"; operands[0], operands[1]
        compare,      // operands[0] ops[0] operands[1] ops[1] operands[2] … (chained)
        conditional,  // operands[0] if operands[1] else operands[2] (else part may be null)
    };
    Kind kind;
    int line = 0, column = 0;
    Value literal;
    std::string name;
    std::vector<ExprPtr> operands;
    std::vector<std::pair<std::string, ExprPtr>> keywords;
    std::vector<std::string> ops;  // compare operators
    bool negated = false;          // `is not`
};

struct Node;
using Body = std::vector<std::unique_ptr<Node>>;

struct Node {
    enum class Kind {
        text,          // text
        output,        // {{ expr }}
        if_chain,      // branches (condition, body) …, else_body
        for_loop,      // targets in expr [if condition] body [else else_body]
        set,           // targets (or namespace_attribute) = expr
        set_block,     // {% set targets[0] | filters %}body{% endset %}
        macro,         // {% macro text(params) %}body{% endmacro %}
        call_block,    // {% call(params) expr %}body{% endcall %}
        filter_block,  // {% filter filters %}body{% endfilter %}
        scope,         // body rendered in place ({% generation %})
        break_loop,
        continue_loop,
    };
    Kind kind;
    int line = 0, column = 0;
    std::string text;
    ExprPtr expr;
    ExprPtr condition;
    std::vector<std::string> targets;
    bool targets_tuple = false;        // `a, b = …` unpacks even a single target
    std::string namespace_attribute;   // `set ns.attr = …`: targets[0] is the namespace
    std::vector<std::pair<ExprPtr, Body>> branches;
    Body body, else_body;
    std::vector<std::pair<std::string, ExprPtr>> params;  // default may be null
    std::vector<ExprPtr> filters;  // filter Exprs whose operands[0] is null: applied to the body
};

struct Program {
    Body body;
};

}  // namespace slm::jinja
