// Parser: tokens → Program, a recursive descent over jinja2's grammar (same operator precedence,
// filters and tests binding tighter than arithmetic, unknown filters/tests rejected at parse time).
#pragma once

#include <string>

#include "template/ast.h"

namespace slm::jinja {

// Throws EvalError with line and column on a syntax error.
Program parse(const std::string& source);

}  // namespace slm::jinja
