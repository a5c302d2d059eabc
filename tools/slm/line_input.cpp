// read_input_line: editline's readline on a terminal (each non-empty line joins the history),
// std::getline otherwise.
#include "line_input.h"

#include <editline/readline.h>

#include <cstdlib>
#include <iostream>

namespace slm::cli {

bool read_input_line(bool terminal, const char* prompt, std::string& line) {
    if (!terminal) return static_cast<bool>(std::getline(std::cin, line));
    char* input = readline(prompt);
    if (input == nullptr) return false;
    line = input;
    if (*input) add_history(input);
    std::free(input);
    return true;
}

}  // namespace slm::cli
