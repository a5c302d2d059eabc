// `slm perplexity MODEL --file TEXT`: perplexity with llama.cpp's llama-perplexity rules
// (slm/eval/perplexity.h), printed as llama-perplexity prints it, or as JSON.
// --kl-base BASE also reports the mean KL divergence from a base model and top-token agreement.
#include <CLI/CLI.hpp>
#include <slm/error.h>
#include <slm/eval/perplexity.h>
#include <slm/file_io.h>
#include <slm/model.h>
#include <slm/progress.h>
#include <slm/tokenizer.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "device_option.h"
#include "lora_option.h"
#include "model_arg.h"

namespace {

using namespace slm;

struct PerplexityVerbOptions {
    std::string model, file, kl_base, device = "auto";
    int gpu_layers = -1;
    std::vector<std::string> lora;
    eval::PerplexityOptions run;
    bool json = false;
};

void run_perplexity(const PerplexityVerbOptions& opt) {
    const auto model = Model::load(opt.model, cli::model_options_for(opt.device, opt.gpu_layers));
    const auto tokenizer = Tokenizer::from_model_path(opt.model);
    const auto input = eval::PerplexityTokens::from_text(*tokenizer, read_text_file(opt.file));
    std::unique_ptr<Model> base;
    eval::PerplexityOptions run = opt.run;
    run.adapters = cli::load_lora_option(*model, opt.lora);
    if (!opt.kl_base.empty()) {
        base = Model::load(opt.kl_base, cli::model_options_for(opt.device, opt.gpu_layers));
        run.kl_base = base.get();
    }
    const int windows = int(input.tokens.size() / size_t(std::max(run.n_ctx, 1)));
    Progress progress("perplexity", uint64_t(run.max_chunks < 0 ? windows : std::min(windows, run.max_chunks)),
                      "chunks");
    eval::PerplexityResult r;
    try {
        r = eval::perplexity(*model, input, run, [&](int, double) { progress.advance(); });
    } catch (const Error& e) {
        fail("{}: {}", opt.file, e.what());
    }
    progress.finish();
    if (opt.json) {
        nlohmann::json j = {{"ppl", r.ppl},         {"ppl_stderr", r.ppl_stderr}, {"n_chunks", r.n_chunks},
                            {"n_ctx", r.n_ctx},     {"n_tokens", input.tokens.size()}};
        if (r.kld) {
            j["kld"] = *r.kld;
            j["same_top_token"] = *r.same_top_token;
        }
        fmt::print("{}\n", j.dump());
        return;
    }
    std::string running;
    for (size_t c = 0; c < r.running_ppl.size(); ++c) running += fmt::format("[{}]{:.4f},", c + 1, r.running_ppl[c]);
    fmt::print("{}\nFinal estimate: PPL = {:.4f} +/- {:.5f}\n", running, r.ppl, r.ppl_stderr);
    if (r.kld) fmt::print("Mean KLD: {:.6f}\nSame top token: {:.3f} %\n", *r.kld, 100.0 * *r.same_top_token);
}

}  // namespace

void add_verb_perplexity(CLI::App& app) {
    auto opt = std::make_shared<PerplexityVerbOptions>();
    auto* cmd = app.add_subcommand("perplexity", "Perplexity of a model on a text file, as llama.cpp's llama-perplexity computes it");
    auto models = std::make_shared<cli::ModelArgs>(cmd);
    models->add("model", opt->model, "Model: GGUF file or HF directory")->required();
    cmd->add_option("--file,-f", opt->file, "Text file")->required()->check(CLI::ExistingFile);
    cmd->add_option("--ctx,-c", opt->run.n_ctx, "Tokens per window (default 512)");
    cmd->add_option("--chunks", opt->run.max_chunks, "Windows to score (default: all)");
    cmd->add_option("--threads,-t", opt->run.threads, "Worker threads (default: one per CPU)");
    models->add("--kl-base", opt->kl_base, "Base model (same vocabulary): also report mean KL divergence and top-token agreement");
    cli::add_lora_option(cmd, opt->lora);
    cli::add_device_option(cmd, opt->device, opt->gpu_layers);
    cmd->add_flag("--json", opt->json, "Print {ppl, ppl_stderr, n_chunks, n_ctx, n_tokens[, kld, same_top_token]} as JSON");
    cmd->callback([opt, models] {
        models->resolve();
        run_perplexity(*opt);
    });
}
