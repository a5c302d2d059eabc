// `slm pull REPO[@REV][:QUANT]`: downloads a model from the Hugging Face Hub into the shared HF
// cache (HF_HUB_CACHE), resuming and verifying as it goes; prints the local path on stdout, so
// `path=$(slm pull org/name)` works, with progress and a summary on stderr.
#include <fmt/format.h>
#include <slm/hub.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "hub/download_progress.h"

namespace {

struct PullVerbOptions {
    std::string ref;
    slm::PullOptions pull;
    bool quiet = false;
};

void run_pull(const PullVerbOptions& opt) {
    slm::PullOptions pull = opt.pull;
    pull.progress = !opt.quiet;
    const slm::ModelRef ref = slm::parse_model_ref(opt.ref);
    const slm::HubOptions hub = slm::HubOptions::from_env();
    const slm::PullResult r = slm::pull(ref, pull, hub);
    if (!opt.quiet)
        fmt::print(stderr, "{}@{} (commit {}): {} file{}, {} downloaded\n", ref.repo, ref.revision,
                   r.commit.substr(0, 8), r.files.size(), r.files.size() == 1 ? "" : "s",
                   slm::hub::human_bytes(r.downloaded_bytes));
    fmt::print("{}\n", r.path);
}

}  // namespace

void add_verb_pull(CLI::App& app) {
    auto opt = std::make_shared<PullVerbOptions>();
    auto* cmd = app.add_subcommand("pull", "Download a model from the Hugging Face Hub into the HF cache");
    cmd->add_option("model", opt->ref,
                    "org/name[@revision][:QUANT], e.g. Qwen/Qwen2.5-0.5B-Instruct or "
                    "bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M")
        ->required();
    cmd->add_option("--include", opt->pull.include, "Also download files matching this glob (repeatable)");
    cmd->add_option("--exclude", opt->pull.exclude, "Skip needed files matching this glob (repeatable)");
    cmd->add_option("--parallel", opt->pull.parallel, "Files downloaded at once")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    cmd->add_option("--connections", opt->pull.connections,
                    "Byte ranges of one large file (64 MiB or more) fetched at once, each over its own connection")
        ->capture_default_str()
        ->check(CLI::Range(1, 32));
    cmd->add_flag("-q,--quiet", opt->quiet, "No progress or summary; only the path");
    cmd->footer(
        "Environment: HF_HUB_CACHE / HF_HOME (where), HF_ENDPOINT, HF_TOKEN (gated and private models), "
        "HF_HUB_OFFLINE=1 (cache only), SLM_HUB_TIMEOUT (seconds). See docs/models.md.");
    cmd->callback([opt] { run_pull(*opt); });
}
