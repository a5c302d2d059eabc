// One line of a conversation from the user: through editline (history, editing) with a prompt on
// a terminal, plain lines from a pipe. Shared by `slm chat` and `slm rag chat`.
#pragma once

#include <string>

namespace slm::cli {

// False at the end of input (Ctrl-D, or the end of the piped text).
bool read_input_line(bool terminal, const char* prompt, std::string& line);

}  // namespace slm::cli
