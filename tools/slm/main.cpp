// slm: the command-line tool. Parses the verb and its options (CLI11), runs it, and turns every
// slm::Error into a one-line message and exit code 1; usage errors exit with code 2.
#include <CLI/CLI.hpp>
#include <slm/error.h>

#include <cstdio>
#include <fmt/format.h>

#include "git_commit.h"
#include "verbs.inc"

#include <algorithm>
#include <string>

namespace {
bool is_verb(CLI::App& app, const std::string& name) {
    return !app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == name; }).empty();
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"slm: small language models on your own machine: run, chat, serve, quantize, evaluate"};
    app.set_version_flag("--version", "slm " SLM_VERSION " (commit " SLM_GIT_COMMIT ")");
    app.require_subcommand(1);
    app.fallthrough(false);
    add_all_verbs(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::RuntimeError& e) {  // a verb's own exit code
        return e.get_exit_code();
    } catch (const CLI::ParseError& e) {
        if (argc > 1 && argv[1][0] != '-' && !is_verb(app, argv[1])) {
            fmt::print(stderr, "slm: unknown verb '{}' (see slm --help)\n", argv[1]);
        } else {
            std::string message = e.what();  // usage errors stay on one line
            std::replace(message.begin(), message.end(), '\n', ' ');
            fmt::print(stderr, "slm: {} (see slm --help)\n", message);
        }
        return 2;
    } catch (const slm::Error& e) {
        fmt::print(stderr, "slm: error: {}\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "slm: internal error: {}\n", e.what());
        return 3;
    }
    return 0;
}
