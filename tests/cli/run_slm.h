// run_slm: runs the built `slm` binary (SLM_BINARY) with arguments and captures its exit code,
// stdout and stderr, for tests of the command line.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "testing/testing.h"

namespace slm::test {

struct SlmRun {
    int exit_code = -1;
    std::string out, err;
};

// `args` is passed to the shell as written; quote paths that may hold spaces.
inline SlmRun run_slm(const std::string& args) {
    static int counter = 0;
    const std::string base = temp_dir() + "/slm-run-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    const std::string command = std::string("'") + SLM_BINARY + "' " + args + " >" + base + ".out 2>" + base + ".err";
    const int status = std::system(command.c_str());
    SlmRun r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    auto slurp = [](const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    r.out = slurp(base + ".out");
    r.err = slurp(base + ".err");
    return r;
}

inline std::string quoted(const std::string& s) { return "'" + s + "'"; }

}  // namespace slm::test
