// Parser: recursive descent over jinja2's grammar. Precedence, lowest first: conditional, or, and,
// not, comparisons (chained, `in`, `not in`), + -, ~, * / // %, **, unary - +, then postfix
// (.attr, [sub], call) and filters / tests.
#include "template/parser.h"

#include <set>

#include "template/builtins.h"
#include "template/eval_error.h"
#include "template/lexer.h"

namespace slm::jinja {

namespace {

constexpr int kMaxNesting = 200;  // deeper expressions or blocks are rejected, never a stack overflow

class Parser {
public:
    explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

    Program program() {
        Program p;
        std::string end;
        p.body = body({}, end);
        return p;
    }

private:
    std::vector<Token> tokens_;
    size_t pos_ = 0;
    int depth_ = 0;
    std::vector<std::string> open_blocks_;

    struct DepthGuard {
        Parser& p;
        explicit DepthGuard(Parser& parser, const Token& at) : p(parser) {
            if (++p.depth_ > kMaxNesting) p.fail(at, "TemplateSyntaxError: nesting too deep");
        }
        ~DepthGuard() { --p.depth_; }
    };

    const Token& current() const { return tokens_[pos_]; }
    const Token& peek(size_t ahead = 1) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
    const Token& advance() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }

    [[noreturn]] void fail(const Token& at, const std::string& message) const {
        throw EvalError{message, at.line, at.column};
    }
    [[noreturn]] void unexpected(const Token& at) const { fail(at, fmt::format("TemplateSyntaxError: unexpected {}", describe(at))); }

    bool is_op(const char* op) const { return current().type == Token::Type::op && current().text == op; }
    bool is_name(const char* name) const { return current().type == Token::Type::name && current().text == name; }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        advance();
        return true;
    }
    bool skip_name(const char* name) {
        if (!is_name(name)) return false;
        advance();
        return true;
    }
    void expect_op(const char* op) {
        if (!skip_op(op)) fail(current(), fmt::format("TemplateSyntaxError: expected '{}', got {}", op, describe(current())));
    }
    std::string expect_name() {
        if (current().type != Token::Type::name) fail(current(), fmt::format("TemplateSyntaxError: expected a name, got {}", describe(current())));
        return advance().text;
    }
    void expect_block_end() {
        if (current().type != Token::Type::block_end) unexpected(current());
        advance();
    }

    static ExprPtr make(Expr::Kind kind, const Token& at) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->line = at.line;
        e->column = at.column;
        return e;
    }

    // ---- statements ----

    // Parses nodes until a block tag named in `ends`; `end` receives that tag's name.
    Body body(const std::set<std::string>& ends, std::string& end) {
        Body out;
        while (true) {
            const Token& t = current();
            switch (t.type) {
                case Token::Type::eof:
                    if (!ends.empty()) {
                        std::string expected;
                        for (const auto& e : ends) expected += fmt::format("{}'{}'", expected.empty() ? "" : " or ", e);
                        fail(t, fmt::format("TemplateSyntaxError: unexpected end of template; expected {} to close '{}'",
                                            expected, open_blocks_.back()));
                    }
                    return out;
                case Token::Type::text: {
                    auto n = node(Node::Kind::text, t);
                    n->text = t.text;
                    advance();
                    out.push_back(std::move(n));
                    break;
                }
                case Token::Type::var_begin: {
                    auto n = node(Node::Kind::output, t);
                    advance();
                    n->expr = tuple_expression(true);
                    if (current().type != Token::Type::var_end) unexpected(current());
                    advance();
                    out.push_back(std::move(n));
                    break;
                }
                case Token::Type::block_begin: {
                    const Token& name = peek();
                    if (name.type == Token::Type::name && ends.count(name.text)) {
                        advance();
                        advance();
                        end = name.text;
                        return out;
                    }
                    advance();
                    out.push_back(statement());
                    break;
                }
                default: unexpected(t);
            }
        }
    }

    static std::unique_ptr<Node> node(Node::Kind kind, const Token& at) {
        auto n = std::make_unique<Node>();
        n->kind = kind;
        n->line = at.line;
        n->column = at.column;
        return n;
    }

    std::unique_ptr<Node> statement() {
        const Token& t = current();
        DepthGuard guard(*this, t);
        if (t.type != Token::Type::name) fail(t, "TemplateSyntaxError: tag name expected");
        std::string tag = advance().text;
        open_blocks_.push_back(tag);
        std::unique_ptr<Node> n;
        if (tag == "if") n = if_statement(t);
        else if (tag == "for") n = for_statement(t);
        else if (tag == "set") n = set_statement(t);
        else if (tag == "macro") n = macro_statement(t);
        else if (tag == "call") n = call_statement(t);
        else if (tag == "filter") n = filter_statement(t);
        else if (tag == "break" || tag == "continue") {
            n = node(tag == "break" ? Node::Kind::break_loop : Node::Kind::continue_loop, t);
            expect_block_end();
        } else if (tag == "generation") {
            n = node(Node::Kind::scope, t);
            expect_block_end();
            std::string end;
            n->body = body({"endgeneration"}, end);
            expect_block_end();
        } else {
            fail(t, fmt::format("TemplateSyntaxError: encountered unknown tag '{}'", tag));
        }
        open_blocks_.pop_back();
        return n;
    }

    std::unique_ptr<Node> if_statement(const Token& at) {
        auto n = node(Node::Kind::if_chain, at);
        while (true) {
            ExprPtr cond = tuple_expression(false);
            expect_block_end();
            std::string end;
            Body b = body({"elif", "else", "endif"}, end);
            n->branches.emplace_back(std::move(cond), std::move(b));
            if (end == "elif") continue;
            if (end == "else") {
                expect_block_end();
                n->else_body = body({"endif"}, end);
            }
            expect_block_end();
            return n;
        }
    }

    // Assignment targets: `a`, `a, b`, `(a, b)`.
    void targets(Node& n) {
        bool parens = skip_op("(");
        n.targets.push_back(expect_name());
        while (skip_op(",")) {
            n.targets_tuple = true;
            if (current().type != Token::Type::name) break;
            n.targets.push_back(expect_name());
        }
        if (parens) {
            n.targets_tuple = true;
            expect_op(")");
        }
    }

    std::unique_ptr<Node> for_statement(const Token& at) {
        auto n = node(Node::Kind::for_loop, at);
        targets(*n);
        if (!skip_name("in")) fail(current(), fmt::format("TemplateSyntaxError: expected 'in', got {}", describe(current())));
        n->expr = tuple_expression(false);
        if (skip_name("if")) n->condition = expression(true);
        if (is_name("recursive")) fail(current(), "TemplateSyntaxError: recursive loops are not supported");
        expect_block_end();
        std::string end;
        n->body = body({"else", "endfor"}, end);
        if (end == "else") {
            expect_block_end();
            n->else_body = body({"endfor"}, end);
        }
        expect_block_end();
        return n;
    }

    std::unique_ptr<Node> set_statement(const Token& at) {
        auto n = node(Node::Kind::set, at);
        if (current().type == Token::Type::name && peek().type == Token::Type::op && peek().text == ".") {
            n->targets.push_back(advance().text);
            advance();
            n->namespace_attribute = expect_name();
        } else {
            targets(*n);
        }
        if (skip_op("=")) {
            n->expr = tuple_expression(true);
            expect_block_end();
            return n;
        }
        if (!n->namespace_attribute.empty() || n->targets_tuple) unexpected(current());
        n->kind = Node::Kind::set_block;
        filter_chain(*n);
        expect_block_end();
        std::string end;
        n->body = body({"endset"}, end);
        expect_block_end();
        return n;
    }

    void filter_chain(Node& n) {
        bool first = n.kind == Node::Kind::filter_block;
        while (first || skip_op("|")) {
            first = false;
            n.filters.push_back(filter(nullptr));
        }
    }

    void params(Node& n) {
        expect_op("(");
        while (!skip_op(")")) {
            if (!n.params.empty()) expect_op(",");
            if (skip_op(")")) break;
            std::string name = expect_name();
            ExprPtr dflt;
            if (skip_op("=")) dflt = expression(true);
            n.params.emplace_back(std::move(name), std::move(dflt));
        }
    }

    std::unique_ptr<Node> macro_statement(const Token& at) {
        auto n = node(Node::Kind::macro, at);
        n->text = expect_name();
        params(*n);
        expect_block_end();
        std::string end;
        n->body = body({"endmacro"}, end);
        if (current().type == Token::Type::name && current().text == n->text) advance();
        expect_block_end();
        return n;
    }

    std::unique_ptr<Node> call_statement(const Token& at) {
        auto n = node(Node::Kind::call_block, at);
        if (is_op("(")) params(*n);
        n->expr = expression(true);
        if (n->expr->kind != Expr::Kind::call) fail(at, "TemplateSyntaxError: expected a call after 'call'");
        expect_block_end();
        std::string end;
        n->body = body({"endcall"}, end);
        expect_block_end();
        return n;
    }

    std::unique_ptr<Node> filter_statement(const Token& at) {
        auto n = node(Node::Kind::filter_block, at);
        filter_chain(*n);
        expect_block_end();
        std::string end;
        n->body = body({"endfilter"}, end);
        expect_block_end();
        return n;
    }

    // ---- expressions ----

    // An expression, or a tuple when commas follow (`{{ a, b }}`, `set x = 1, 2`, `for … in a, b`).
    ExprPtr tuple_expression(bool with_conditional) {
        const Token& at = current();
        ExprPtr first = expression(with_conditional);
        if (!is_op(",")) return first;
        auto t = make(Expr::Kind::tuple, at);
        t->operands.push_back(std::move(first));
        while (skip_op(",")) {
            if (!starts_expression()) break;
            t->operands.push_back(expression(with_conditional));
        }
        return t;
    }

    bool starts_expression() const {
        const Token& t = current();
        if (t.type == Token::Type::name) return true;
        if (t.type == Token::Type::string || t.type == Token::Type::integer || t.type == Token::Type::number) return true;
        return t.type == Token::Type::op && (t.text == "(" || t.text == "[" || t.text == "{" || t.text == "-" || t.text == "+");
    }

    ExprPtr expression(bool with_conditional) {
        DepthGuard guard(*this, current());
        return with_conditional ? conditional() : or_expr();
    }

    ExprPtr conditional() {
        ExprPtr expr = or_expr();
        while (is_name("if")) {
            const Token& at = advance();
            auto c = make(Expr::Kind::conditional, at);
            c->operands.push_back(std::move(expr));
            c->operands.push_back(or_expr());
            c->operands.push_back(skip_name("else") ? conditional() : nullptr);
            expr = std::move(c);
        }
        return expr;
    }

    ExprPtr binary(const Token& at, const std::string& op, ExprPtr lhs, ExprPtr rhs) {
        auto b = make(Expr::Kind::binary, at);
        b->name = op;
        b->operands.push_back(std::move(lhs));
        b->operands.push_back(std::move(rhs));
        return b;
    }

    ExprPtr or_expr() {
        ExprPtr lhs = and_expr();
        while (is_name("or")) {
            const Token& at = advance();
            lhs = binary(at, "or", std::move(lhs), and_expr());
        }
        return lhs;
    }

    ExprPtr and_expr() {
        ExprPtr lhs = not_expr();
        while (is_name("and")) {
            const Token& at = advance();
            lhs = binary(at, "and", std::move(lhs), not_expr());
        }
        return lhs;
    }

    ExprPtr not_expr() {
        if (is_name("not")) {
            DepthGuard guard(*this, current());
            const Token& at = advance();
            auto u = make(Expr::Kind::unary, at);
            u->name = "not";
            u->operands.push_back(not_expr());
            return u;
        }
        return compare();
    }

    ExprPtr compare() {
        const Token& at = current();
        ExprPtr first = math1();
        ExprPtr chain;
        while (true) {
            std::string op;
            const Token& t = current();
            if (t.type == Token::Type::op &&
                (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == ">" || t.text == "<=" || t.text == ">=")) {
                op = t.text;
                advance();
            } else if (is_name("in")) {
                op = "in";
                advance();
            } else if (is_name("not") && peek().type == Token::Type::name && peek().text == "in") {
                op = "not in";
                advance();
                advance();
            } else {
                break;
            }
            if (!chain) {
                chain = make(Expr::Kind::compare, at);
                chain->operands.push_back(std::move(first));
            }
            chain->ops.push_back(op);
            chain->operands.push_back(math1());
        }
        return chain ? std::move(chain) : std::move(first);
    }

    template <typename Next>
    ExprPtr left_assoc(std::initializer_list<const char*> ops, Next next) {
        ExprPtr lhs = (this->*next)();
        while (true) {
            const char* found = nullptr;
            for (const char* op : ops)
                if (is_op(op)) found = op;
            if (!found) return lhs;
            const Token& at = advance();
            lhs = binary(at, found, std::move(lhs), (this->*next)());
        }
    }

    ExprPtr math1() { return left_assoc({"+", "-"}, &Parser::concat); }
    ExprPtr concat() { return left_assoc({"~"}, &Parser::math2); }
    ExprPtr math2() { return left_assoc({"*", "/", "//", "%"}, &Parser::power); }
    ExprPtr power() { return left_assoc({"**"}, &Parser::unary_with_filter); }
    ExprPtr unary_with_filter() { return unary(true); }

    ExprPtr unary(bool with_filter) {
        DepthGuard guard(*this, current());
        const Token& at = current();
        ExprPtr node;
        if (is_op("-") || is_op("+")) {
            advance();
            node = make(Expr::Kind::unary, at);
            node->name = at.text;
            node->operands.push_back(unary(false));
        } else {
            node = primary();
        }
        node = postfix(std::move(node));
        if (with_filter) node = filters_and_tests(std::move(node));
        return node;
    }

    ExprPtr primary() {
        const Token& t = current();
        switch (t.type) {
            case Token::Type::name: {
                advance();
                static const std::pair<const char*, int> constants[] = {
                    {"true", 1}, {"True", 1}, {"false", 0}, {"False", 0}, {"none", -1}, {"None", -1}};
                for (const auto& [word, value] : constants)
                    if (t.text == word) {
                        auto lit = make(Expr::Kind::literal, t);
                        lit->literal = value < 0 ? Value::none() : Value::from(value == 1);
                        return lit;
                    }
                auto name = make(Expr::Kind::name, t);
                name->name = t.text;
                return name;
            }
            case Token::Type::string: {
                auto lit = make(Expr::Kind::literal, t);
                std::string s;
                while (current().type == Token::Type::string) s += advance().text;  // adjacent literals join
                lit->literal = Value::from(std::move(s));
                return lit;
            }
            case Token::Type::integer:
            case Token::Type::number: {
                advance();
                auto lit = make(Expr::Kind::literal, t);
                lit->literal = t.type == Token::Type::integer ? Value::from(t.integer) : Value::from(t.number);
                return lit;
            }
            case Token::Type::op:
                if (t.text == "(") return parenthesized();
                if (t.text == "[") return list_literal();
                if (t.text == "{") return dict_literal();
                break;
            default: break;
        }
        if (t.type == Token::Type::var_end || t.type == Token::Type::block_end || t.type == Token::Type::eof)
            fail(t, fmt::format("TemplateSyntaxError: expected an expression, got {}", describe(t)));
        unexpected(t);
    }

    ExprPtr parenthesized() {
        const Token& at = advance();
        if (skip_op(")")) return make(Expr::Kind::tuple, at);
        ExprPtr first = expression(true);
        if (skip_op(")")) return first;
        auto t = make(Expr::Kind::tuple, at);
        t->operands.push_back(std::move(first));
        while (skip_op(",")) {
            if (is_op(")")) break;
            t->operands.push_back(expression(true));
        }
        expect_op(")");
        return t;
    }

    ExprPtr list_literal() {
        const Token& at = advance();
        auto l = make(Expr::Kind::list, at);
        while (!skip_op("]")) {
            if (!l->operands.empty()) {
                expect_op(",");
                if (skip_op("]")) break;
            }
            l->operands.push_back(expression(true));
        }
        return l;
    }

    ExprPtr dict_literal() {
        const Token& at = advance();
        auto d = make(Expr::Kind::dict, at);
        while (!skip_op("}")) {
            if (!d->operands.empty()) {
                expect_op(",");
                if (skip_op("}")) break;
            }
            d->operands.push_back(expression(true));
            expect_op(":");
            d->operands.push_back(expression(true));
        }
        return d;
    }

    ExprPtr postfix(ExprPtr node) {
        while (true) {
            const Token& at = current();
            if (skip_op(".")) {
                if (current().type == Token::Type::integer) {  // `x.0` is `x[0]`
                    auto s = make(Expr::Kind::subscript, at);
                    s->operands.push_back(std::move(node));
                    auto lit = make(Expr::Kind::literal, current());
                    lit->literal = Value::from(advance().integer);
                    s->operands.push_back(std::move(lit));
                    node = std::move(s);
                    continue;
                }
                auto a = make(Expr::Kind::attribute, at);
                a->name = expect_name();
                a->operands.push_back(std::move(node));
                node = std::move(a);
            } else if (is_op("[")) {
                advance();
                node = subscript(std::move(node), at);
            } else if (is_op("(")) {
                node = call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr subscript(ExprPtr target, const Token& at) {
        auto part = [&]() -> ExprPtr {
            if (is_op(":") || is_op("]")) return nullptr;
            return expression(true);
        };
        ExprPtr start = part();
        if (!is_op(":")) {
            ExprPtr key = std::move(start);
            if (!key) unexpected(current());
            if (is_op(",")) {  // x[a, b]: a tuple key
                auto t = make(Expr::Kind::tuple, at);
                t->operands.push_back(std::move(key));
                while (skip_op(",") && !is_op("]")) t->operands.push_back(expression(true));
                key = std::move(t);
            }
            expect_op("]");
            auto s = make(Expr::Kind::subscript, at);
            s->operands.push_back(std::move(target));
            s->operands.push_back(std::move(key));
            return s;
        }
        auto s = make(Expr::Kind::slice, at);
        s->operands.push_back(std::move(target));
        s->operands.push_back(std::move(start));
        advance();  // ':'
        s->operands.push_back(part());
        s->operands.push_back(skip_op(":") ? part() : nullptr);
        expect_op("]");
        return s;
    }

    // Call arguments after '(' into `e`: positional, then keyword arguments.
    void arguments(Expr& e) {
        expect_op("(");
        bool first = true;
        while (!skip_op(")")) {
            if (!first) {
                expect_op(",");
                if (skip_op(")")) break;
            }
            first = false;
            if (current().type == Token::Type::name && peek().type == Token::Type::op && peek().text == "=") {
                std::string key = advance().text;
                advance();
                e.keywords.emplace_back(std::move(key), expression(true));
            } else {
                if (!e.keywords.empty()) fail(current(), "TemplateSyntaxError: positional argument after keyword argument");
                e.operands.push_back(expression(true));
            }
        }
    }

    ExprPtr call(ExprPtr callee) {
        auto c = make(Expr::Kind::call, current());
        c->operands.push_back(std::move(callee));
        arguments(*c);
        return c;
    }

    ExprPtr filter(ExprPtr input) {
        const Token& at = current();
        auto f = make(Expr::Kind::filter, at);
        f->name = expect_name();
        while (skip_op(".")) f->name += fmt::format(".{}", expect_name());
        if (!find_filter(f->name)) fail(at, fmt::format("TemplateAssertionError: no filter named '{}'", f->name));
        f->operands.push_back(std::move(input));
        if (is_op("(")) arguments(*f);
        return f;
    }

    ExprPtr filters_and_tests(ExprPtr node) {
        while (true) {
            if (skip_op("|")) {
                node = filter(std::move(node));
            } else if (is_name("is")) {
                const Token& at = advance();
                auto t = make(Expr::Kind::test, at);
                t->negated = skip_name("not");
                const Token& name = current();
                t->name = expect_name();
                while (skip_op(".")) t->name += fmt::format(".{}", expect_name());
                if (!find_test(t->name)) fail(name, fmt::format("TemplateAssertionError: no test named '{}'", t->name));
                t->operands.push_back(std::move(node));
                if (is_op("(")) {
                    arguments(*t);
                } else if (test_argument_follows()) {
                    t->operands.push_back(postfix(primary()));
                }
                node = std::move(t);
            } else if (is_op("(")) {
                node = call(std::move(node));
            } else {
                return node;
            }
        }
    }

    // `x is divisibleby 3`: a test may take one argument without parentheses.
    bool test_argument_follows() const {
        const Token& t = current();
        if (t.type == Token::Type::name) return t.text != "else" && t.text != "or" && t.text != "and" && t.text != "is";
        if (t.type == Token::Type::string || t.type == Token::Type::integer || t.type == Token::Type::number) return true;
        return t.type == Token::Type::op && (t.text == "[" || t.text == "{");
    }
};

}  // namespace

Program parse(const std::string& source) { return Parser(tokenize(source)).program(); }

}  // namespace slm::jinja
