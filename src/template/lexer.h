// Lexer: template source → tokens, with jinja2's whitespace rules as transformers configures them
// (trim_blocks and lstrip_blocks on, `-`/`+` markers, one trailing newline dropped, \r\n → \n).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slm::jinja {

struct Token {
    enum class Type { text, var_begin, var_end, block_begin, block_end, name, string, integer, number, op, eof };
    Type type;
    std::string text;  // text data, name, decoded string literal, or operator
    int64_t integer = 0;
    double number = 0.0;
    int line = 1, column = 1;
};

// Throws EvalError (with line and column) on an unterminated tag, comment or string.
std::vector<Token> tokenize(const std::string& source);

// A short description of a token for syntax errors: "end of print statement", "'}'", "name 'x'".
std::string describe(const Token& token);

}  // namespace slm::jinja
