// Lexer: splits a template into text and tag tokens and tokenizes the expressions inside tags.
// Whitespace handling follows jinja2's lexer with trim_blocks=True and lstrip_blocks=True.
#include "template/lexer.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "template/eval_error.h"
#include "template/text.h"

namespace slm::jinja {

namespace {

bool is_inline_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
bool is_space(char c) { return is_inline_space(c) || c == '\n'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// jinja2 reads string literals with Python's unicode-escape codec.
std::string unescape(const std::string& raw) {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c != '\\' || i + 1 == raw.size()) {
            out += c;
            continue;
        }
        char e = raw[++i];
        auto hex = [&](size_t digits) -> bool {
            uint32_t v = 0;
            for (size_t k = 1; k <= digits; ++k) {
                if (i + k >= raw.size() || !isxdigit(static_cast<unsigned char>(raw[i + k]))) return false;
                char h = raw[i + k];
                v = v * 16 + static_cast<uint32_t>(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
            }
            if (v > 0x10FFFF) return false;
            text::append(out, v);
            i += digits;
            return true;
        };
        switch (e) {
            case '\n': break;  // line continuation
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'v': out += '\v'; break;
            case 'x':
                if (!hex(2)) eval_fail("SyntaxError: truncated \\xXX escape in a string literal");
                break;
            case 'u':
                if (!hex(4)) eval_fail("SyntaxError: truncated \\uXXXX escape in a string literal");
                break;
            case 'U':
                if (!hex(8)) eval_fail("SyntaxError: truncated \\UXXXXXXXX escape in a string literal");
                break;
            default:
                if (e >= '0' && e <= '7') {
                    uint32_t v = static_cast<uint32_t>(e - '0');
                    for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7'; ++k)
                        v = v * 8 + static_cast<uint32_t>(raw[++i] - '0');
                    text::append(out, v);
                } else {
                    out += '\\';
                    out += e;
                }
        }
    }
    return out;
}

const char* const kOperators[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "~", "<",
                                  ">",  "=",  ".",  ",",  ":",  "|",  "(", ")", "[", "]", "{", "}"};

class Lexer {
public:
    explicit Lexer(std::string source) : src_(std::move(source)) {
        // jinja2 normalizes newlines and, with keep_trailing_newline off, drops one final newline.
        std::string normalized;
        normalized.reserve(src_.size());
        for (size_t i = 0; i < src_.size(); ++i) {
            if (src_[i] == '\r') {
                normalized += '\n';
                if (i + 1 < src_.size() && src_[i + 1] == '\n') ++i;
            } else {
                normalized += src_[i];
            }
        }
        if (!normalized.empty() && normalized.back() == '\n') normalized.pop_back();
        src_ = std::move(normalized);
        for (size_t i = 0; i < src_.size(); ++i)
            if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;
        while (pos < src_.size()) {
            size_t at = next_tag(pos);
            std::string data = src_.substr(pos, at == std::string::npos ? std::string::npos : at - pos);
            if (at == std::string::npos) {
                emit_text(std::move(data), pos);
                break;
            }
            char kind = src_[at + 1];
            char sign = at + 2 < src_.size() && (src_[at + 2] == '-' || src_[at + 2] == '+') ? src_[at + 2] : 0;
            if (sign == '-') {
                while (!data.empty() && is_space(data.back())) data.pop_back();
            } else if (sign != '+' && kind != '{') {  // lstrip_blocks: not for {{ }}
                size_t l_pos = data.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if ((l_pos > 0 || line_starting) && l_pos < data.size()) {
                    bool blank = true;
                    for (size_t i = l_pos; i < data.size(); ++i) blank = blank && is_inline_space(data[i]);
                    if (blank) data.resize(l_pos);
                }
            }
            emit_text(std::move(data), pos);
            size_t inner = at + 2 + (sign ? 1 : 0);
            if (kind == '#') {
                pos = end_comment(at, inner);
            } else if (kind == '%' && is_raw(inner)) {
                pos = raw_block(at, inner);
            } else {
                pos = tag(kind, at, inner);
            }
            line_starting = pos > 0 && src_[pos - 1] == '\n';
        }
        tokens_.push_back(make(Token::Type::eof, "", src_.size()));
        return std::move(tokens_);
    }

private:
    std::string src_;
    std::vector<size_t> line_starts_{0};
    std::vector<Token> tokens_;

    Token make(Token::Type type, std::string text, size_t offset) const {
        Token t{type, std::move(text)};
        size_t line = static_cast<size_t>(std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - line_starts_.begin());
        t.line = static_cast<int>(line);
        t.column = static_cast<int>(offset - line_starts_[line - 1] + 1);
        return t;
    }

    [[noreturn]] void fail_at(size_t offset, const std::string& message) const {
        Token t = make(Token::Type::eof, "", offset);
        throw EvalError{message, t.line, t.column};
    }

    size_t next_tag(size_t from) const {
        for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1))
            if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
        return std::string::npos;
    }

    void emit_text(std::string data, size_t offset) {
        if (!data.empty()) tokens_.push_back(make(Token::Type::text, std::move(data), offset));
    }

    // After a block or comment end: `-` strips all following whitespace, `+` keeps it, otherwise
    // trim_blocks removes one newline.
    size_t after_block_end(size_t end, char sign) const {
        if (sign == '-') {
            while (end < src_.size() && is_space(src_[end])) ++end;
        } else if (sign != '+' && end < src_.size() && src_[end] == '\n') {
            ++end;
        }
        return end;
    }

    size_t end_comment(size_t at, size_t inner) const {
        size_t close = src_.find("#}", inner);
        if (close == std::string::npos) fail_at(at, "TemplateSyntaxError: missing end of comment tag");
        char sign = close > inner && (src_[close - 1] == '-' || src_[close - 1] == '+') ? src_[close - 1] : 0;
        return after_block_end(close + 2, sign);
    }

    bool is_raw(size_t inner) const {
        size_t i = inner;
        while (i < src_.size() && is_space(src_[i])) ++i;
        if (src_.compare(i, 3, "raw") != 0) return false;
        i += 3;
        while (i < src_.size() && is_space(src_[i])) ++i;
        return src_.compare(i, 2, "%}") == 0 || src_.compare(i, 3, "-%}") == 0 || src_.compare(i, 3, "+%}") == 0;
    }

    // {% raw %}…{% endraw %}: the content is text, its tags uninterpreted.
    size_t raw_block(size_t at, size_t inner) {
        size_t close = src_.find("%}", inner);
        size_t start = after_block_end(close + 2, src_[close - 1] == '-' ? '-' : src_[close - 1] == '+' ? '+' : 0);
        for (size_t i = src_.find("{%", start); i != std::string::npos; i = src_.find("{%", i + 2)) {
            size_t j = i + 2;
            char sign = j < src_.size() && (src_[j] == '-' || src_[j] == '+') ? src_[j++] : 0;
            while (j < src_.size() && is_space(src_[j])) ++j;
            if (src_.compare(j, 6, "endraw") != 0) continue;
            j += 6;
            while (j < src_.size() && is_space(src_[j])) ++j;
            char end_sign = src_[j] == '-' || src_[j] == '+' ? src_[j++] : 0;
            if (src_.compare(j, 2, "%}") != 0) continue;
            std::string data = src_.substr(start, i - start);
            if (sign == '-') {
                while (!data.empty() && is_space(data.back())) data.pop_back();
            } else if (sign != '+') {
                size_t l_pos = data.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                bool blank = l_pos < data.size();
                for (size_t k = l_pos; k < data.size(); ++k) blank = blank && is_inline_space(data[k]);
                if (blank && l_pos > 0) data.resize(l_pos);
            }
            emit_text(std::move(data), start);
            return after_block_end(j + 2, end_sign);
        }
        fail_at(at, "TemplateSyntaxError: missing end of raw directive");
    }

    // Tokens of one {{ … }} or {% … %} tag; returns the position after its end.
    size_t tag(char kind, size_t at, size_t pos) {
        bool block = kind == '%';
        tokens_.push_back(make(block ? Token::Type::block_begin : Token::Type::var_begin, "", at));
        int depth = 0;
        while (true) {
            while (pos < src_.size() && is_space(src_[pos])) ++pos;
            if (pos >= src_.size())
                fail_at(at, block ? "TemplateSyntaxError: unexpected end of template, missing '%}'"
                                  : "TemplateSyntaxError: unexpected end of template, missing '}}'");
            if (depth == 0) {
                const char* close = block ? "%}" : "}}";
                for (char sign : {'-', '+', '\0'}) {
                    if (sign == '+' && !block) continue;
                    size_t k = pos + (sign ? 1 : 0);
                    if ((sign == 0 || src_[pos] == sign) && src_.compare(k, 2, close) == 0) {
                        tokens_.push_back(make(block ? Token::Type::block_end : Token::Type::var_end, "", pos));
                        if (!block) {
                            size_t end = k + 2;
                            if (sign == '-')
                                while (end < src_.size() && is_space(src_[end])) ++end;
                            return end;
                        }
                        return after_block_end(k + 2, sign);
                    }
                }
            }
            pos = expression_token(pos, depth);
        }
    }

    size_t expression_token(size_t pos, int& depth) {
        char c = src_[pos];
        if (is_name_start(c)) {
            size_t end = pos;
            while (end < src_.size() && (is_name_start(src_[end]) || is_digit(src_[end]))) ++end;
            tokens_.push_back(make(Token::Type::name, src_.substr(pos, end - pos), pos));
            return end;
        }
        if (is_digit(c)) return number(pos);
        if (c == '\'' || c == '"') {
            size_t end = pos + 1;
            while (end < src_.size() && src_[end] != c) end += src_[end] == '\\' ? 2 : 1;
            if (end >= src_.size()) fail_at(pos, "TemplateSyntaxError: unexpected end of string literal");
            Token t = make(Token::Type::string, "", pos);
            try {
                t.text = unescape(src_.substr(pos + 1, end - pos - 1));
            } catch (EvalError& e) {
                fail_at(pos, e.message);
            }
            tokens_.push_back(std::move(t));
            return end + 1;
        }
        for (const char* op : kOperators) {
            size_t n = std::strlen(op);
            if (src_.compare(pos, n, op) == 0) {
                if (*op == '(' || *op == '[' || *op == '{') ++depth;
                if ((*op == ')' || *op == ']' || *op == '}') && depth > 0) --depth;
                tokens_.push_back(make(Token::Type::op, op, pos));
                return pos + n;
            }
        }
        fail_at(pos, std::string("TemplateSyntaxError: unexpected char '") + c + "'");
    }

    size_t number(size_t pos) {
        auto digits = [&](size_t p) {
            while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])))) ++p;
            return p;
        };
        size_t end = digits(pos);
        bool is_float = false;
        if (end + 1 < src_.size() && src_[end] == '.' && is_digit(src_[end + 1])) {
            end = digits(end + 1);
            is_float = true;
        }
        if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
            size_t k = end + 1;
            if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
            if (k < src_.size() && is_digit(src_[k])) {
                end = digits(k);
                is_float = true;
            }
        }
        std::string literal;
        for (size_t i = pos; i < end; ++i)
            if (src_[i] != '_') literal += src_[i];
        Token t = make(is_float ? Token::Type::number : Token::Type::integer, literal, pos);
        if (is_float) {
            t.number = std::strtod(literal.c_str(), nullptr);
        } else {
            errno = 0;
            t.integer = std::strtoll(literal.c_str(), nullptr, 10);
            if (errno == ERANGE) fail_at(pos, "TemplateSyntaxError: integer literal too large: " + literal);
        }
        tokens_.push_back(std::move(t));
        return end;
    }
};

}  // namespace

std::vector<Token> tokenize(const std::string& source) { return Lexer(source).run(); }

std::string describe(const Token& token) {
    switch (token.type) {
        case Token::Type::text: return "template data";
        case Token::Type::var_begin: return "begin of print statement";
        case Token::Type::var_end: return "end of print statement";
        case Token::Type::block_begin: return "begin of statement block";
        case Token::Type::block_end: return "end of statement block";
        case Token::Type::name: return "name '" + token.text + "'";
        case Token::Type::string: return "string literal";
        case Token::Type::integer:
        case Token::Type::number: return "number " + token.text;
        case Token::Type::op: return "'" + token.text + "'";
        case Token::Type::eof: return "end of template";
    }
    return "token";
}

}  // namespace slm::jinja
