// `slm list [--json]`: the models in the HF cache, one line per cached revision (repository,
// revision, files, size, format, last used); --json for scripts. Reads the disk only.
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <slm/hub.h>

#include <CLI/CLI.hpp>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "hub/download_progress.h"

namespace {

std::string revision_names(const slm::CachedRevision& rev) {
    std::string names;
    for (const auto& r : rev.refs) names += (names.empty() ? "" : ",") + r;
    return names.empty() ? rev.commit.substr(0, 8) : names + " (" + rev.commit.substr(0, 8) + ")";
}

std::string when(int64_t unix_seconds) {
    if (unix_seconds <= 0) return "-";
    const std::time_t t = unix_seconds;
    std::tm local{};
    localtime_r(&t, &local);
    return fmt::format("{:%Y-%m-%d %H:%M}", local);
}

void run_list(bool json) {
    const std::string dir = slm::hub_cache_dir();
    const auto repos = slm::list_cached(dir);
    if (json) {
        nlohmann::ordered_json out = {{"cache_dir", dir}, {"models", nlohmann::ordered_json::array()}};
        for (const auto& repo : repos) {
            nlohmann::ordered_json revisions = nlohmann::ordered_json::array();
            for (const auto& rev : repo.revisions)
                revisions.push_back({{"commit", rev.commit},
                                     {"refs", rev.refs},
                                     {"files", rev.files},
                                     {"size", rev.size},
                                     {"format", rev.format}});
            out["models"].push_back({{"repo", repo.repo},
                                     {"path", repo.path},
                                     {"size_on_disk", repo.size_on_disk},
                                     {"last_used", repo.last_used},
                                     {"revisions", revisions}});
        }
        fmt::print("{}\n", out.dump(2));
        return;
    }
    if (repos.empty()) {
        fmt::print("No models in the cache ({}). `slm pull ORG/NAME` downloads one.\n", dir);
        return;
    }
    fmt::print("{:<44} {:<22} {:>5} {:>10} {:<16} {}\n", "MODEL", "REVISION", "FILES", "SIZE", "FORMAT", "LAST USED");
    for (const auto& repo : repos) {
        for (const auto& rev : repo.revisions)
            fmt::print("{:<44} {:<22} {:>5} {:>10} {:<16} {}\n", repo.repo, revision_names(rev), rev.files.size(),
                       slm::hub::human_bytes(rev.size), rev.format.empty() ? "-" : rev.format, when(repo.last_used));
        if (repo.revisions.empty())
            fmt::print("{:<44} {:<22} {:>5} {:>10} {:<16} {}\n", repo.repo, "(partial download)", 0,
                       slm::hub::human_bytes(repo.size_on_disk), "-", when(repo.last_used));
    }
}

}  // namespace

void add_verb_list(CLI::App& app) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("list", "List the models in the Hugging Face cache (HF_HUB_CACHE)");
    cmd->add_flag("--json", *json, "Print machine-readable JSON");
    cmd->callback([json] { run_list(*json); });
}
