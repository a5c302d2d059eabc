// `slm rm REPO[@REV]`: removes a cached model, or one revision of it while keeping the blobs
// another cached revision still uses.
#include <fmt/format.h>
#include <slm/error.h>
#include <slm/hub.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "hub/download_progress.h"

void add_verb_rm(CLI::App& app) {
    auto ref = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("rm", "Remove a model (or one revision: org/name@rev) from the Hugging Face cache");
    cmd->add_option("model", *ref, "org/name[@revision]")->required();
    cmd->callback([ref] {
        const slm::ModelRef r = slm::parse_model_ref(*ref);
        if (!r.quant.empty())
            throw slm::Error(
                fmt::format("slm rm takes org/name[@revision], not a quantization (':{}'): it removes whole "
                            "revisions",
                            r.quant));
        const uint64_t freed = slm::remove_cached(r, slm::hub_cache_dir());
        fmt::print("removed {} ({} freed)\n", r.str(), slm::hub::human_bytes(freed));
    });
}
