// `slm run MODEL -p PROMPT`: generates a continuation of the prompt with the model (HF directory or
// GGUF file), streaming text to stdout and timings to stderr; --json prints one JSON object
// instead. Sampling defaults come from the model's generation_config.json; flags override them.
#include <CLI/CLI.hpp>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/generator.h>
#include <slm/model.h>
#include <slm/sampler.h>
#include <slm/session.h>
#include <slm/tokenizer.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include "device_option.h"
#include "lora_option.h"
#include "model_arg.h"

namespace {

using namespace slm;

struct RunOptions {
    std::string model, prompt, prompt_file, device = "auto";
    int gpu_layers = -1;
    int n_predict = 128;
    float temperature = 0, top_p = 0, min_p = 0, repeat_penalty = 0;
    int top_k = 0, repeat_last_n = 64;
    uint64_t seed = 0;
    bool greedy = false, json = false, ignore_eos = false;
    int n_ctx = 0, threads = 0;
    std::vector<std::string> stops, lora;
    std::string kv_type = "f16";
    // Which sampling flags the user gave (others come from generation_config.json).
    CLI::Option *temp_opt = nullptr, *top_k_opt = nullptr, *top_p_opt = nullptr, *min_p_opt = nullptr,
                *repeat_opt = nullptr, *seed_opt = nullptr;
};

SamplerParams sampler_params(const RunOptions& o, const GenerationDefaults& defaults) {
    SamplerParams p = SamplerParams::from_generation_defaults(defaults);
    if (o.temp_opt->count()) p.temperature = o.temperature;
    if (o.top_k_opt->count()) p.top_k = o.top_k;
    if (o.top_p_opt->count()) p.top_p = o.top_p;
    if (o.min_p_opt->count()) p.min_p = o.min_p;
    if (o.repeat_opt->count()) p.repeat_penalty = o.repeat_penalty;
    p.penalty_last_n = o.repeat_last_n;
    p.seed = o.seed_opt->count() ? o.seed : std::random_device{}();
    if (o.greedy) p.temperature = 0;
    return p;
}

void run(const RunOptions& o) {
    using Clock = std::chrono::steady_clock;
    std::string prompt = o.prompt;
    if (!o.prompt_file.empty()) prompt = read_text_file(o.prompt_file);
    if (prompt.empty()) fail("empty prompt: give one with -p or -f");

    const auto t_load = Clock::now();
    const std::unique_ptr<Model> model = Model::load(o.model, cli::model_options_for(o.device, o.gpu_layers));
    const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_model_path(o.model);
    SessionOptions so;
    // The model's trained context, capped so that a 128k-context model does not reserve gigabytes.
    const int model_ctx = model->config().max_position > 0 ? model->config().max_position : 4096;
    so.n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min(model_ctx, 4096);
    so.threads = o.threads;
    so.adapters = cli::load_lora_option(*model, o.lora);
    if (o.kv_type == "f32") so.kv_dtype = DType::f32;
    else if (o.kv_type != "f16") fail("--kv-type '{}': expected f16 or f32", o.kv_type);
    Session session(*model, so);
    const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_load).count();

    const std::vector<int32_t> prompt_ids = tokenizer->encode(prompt, /*add_special=*/true, /*parse_special=*/false);
    if (prompt_ids.empty()) fail("the prompt encodes to no tokens");
    SamplerParams params = sampler_params(o, model->files().generation);
    SamplerChain sampler(params);
    Generator generator(session, *tokenizer, end_of_generation_ids(*model, *tokenizer));
    GenerationOptions go;
    go.max_tokens = o.n_predict;
    go.stop_strings = o.stops;
    go.ignore_eos = o.ignore_eos;

    GenerationResult r;
    if (o.json) {
        r = generator.generate(prompt_ids, sampler, go);
    } else {
        std::fwrite(prompt.data(), 1, prompt.size(), stdout);
        std::fflush(stdout);
        r = generator.generate(prompt_ids, sampler, go, [](std::string_view piece) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
        });
        std::fputc('\n', stdout);
    }
    r.timings.load_ms = load_ms;
    const GenerationTimings& t = r.timings;
    if (o.json) {
        nlohmann::json j;
        j["prompt_tokens"] = r.prompt_tokens;
        j["tokens"] = r.tokens;
        j["text"] = r.text;
        j["timings"] = {{"load_ms", t.load_ms},
                        {"prompt_ms", t.prompt_ms},
                        {"prompt_tokens", t.prompt_tokens},
                        {"prompt_tokens_per_s", t.prompt_tokens_per_s()},
                        {"generation_ms", t.generation_ms},
                        {"generated_tokens", t.generated_tokens},
                        {"generated_tokens_per_s", t.generated_tokens_per_s()}};
        fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    fmt::print(stderr,
               "\nload {:.0f} ms | prompt {} tokens in {:.1f} ms ({:.1f} tokens/s) | generated {} tokens in {:.1f} ms "
               "({:.1f} tokens/s) | stop: {} | sampler: {}, seed {}\n",
               t.load_ms, t.prompt_tokens, t.prompt_ms, t.prompt_tokens_per_s(), t.generated_tokens, t.generation_ms,
               t.generated_tokens_per_s(), stop_reason_name(r.stop_reason),
               sampler.greedy() ? std::string("greedy") : fmt::format("temp {}", params.temperature), params.seed);
}

}  // namespace

void add_verb_run(CLI::App& app) {
    auto o = std::make_shared<RunOptions>();
    auto* cmd = app.add_subcommand("run", "Generate text from a prompt with a model (HF directory or GGUF file)");
    auto models = std::make_shared<cli::ModelArgs>(cmd);
    models->add("model", o->model, "Model: an HF directory (config.json + safetensors) or a .gguf file")->required();
    cmd->add_option("-p,--prompt", o->prompt, "Prompt text");
    cmd->add_option("-f,--file", o->prompt_file, "Read the prompt from a file")->check(CLI::ExistingFile);
    cmd->add_option("-n,--n-predict", o->n_predict, "Tokens to generate at most (-1: until the context is full)")
        ->capture_default_str();
    o->temp_opt = cmd->add_option("--temp", o->temperature, "Temperature (0: greedy); default from generation_config.json");
    o->top_k_opt = cmd->add_option("--top-k", o->top_k, "Keep the k most likely tokens (0: off)");
    o->top_p_opt = cmd->add_option("--top-p", o->top_p, "Keep the most likely tokens up to this total probability (1: off)");
    o->min_p_opt = cmd->add_option("--min-p", o->min_p, "Drop tokens less likely than this times the top one (0: off)");
    o->repeat_opt = cmd->add_option("--repeat-penalty", o->repeat_penalty, "Penalty on recently seen tokens (1: off)");
    cmd->add_option("--repeat-last-n", o->repeat_last_n, "Window of recent tokens the penalty looks at")->capture_default_str();
    o->seed_opt = cmd->add_option("--seed,-s", o->seed, "Random seed, for reproducible sampling (default: random)");
    cmd->add_flag("--greedy", o->greedy, "Always take the most likely token (same as --temp 0)");
    cmd->add_option("--ctx,-c", o->n_ctx, "Context size in tokens (default: the model's, at most 4096)");
    cmd->add_option("--threads,-t", o->threads, "Worker threads (default: one per CPU)");
    cmd->add_option("--stop", o->stops, "Stop when this text is generated (repeatable)");
    cmd->add_option("--kv-type", o->kv_type, "KV cache element type: f16 or f32")->capture_default_str();
    cli::add_lora_option(cmd, o->lora);
    cli::add_device_option(cmd, o->device, o->gpu_layers);
    cmd->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-text tokens");
    cmd->add_flag("--json", o->json, "Print one JSON object {prompt_tokens, tokens, text, timings} instead of streaming");
    cmd->callback([o, models] {
        if (o->prompt.empty() && o->prompt_file.empty()) fail("run: give a prompt with -p PROMPT or -f FILE");
        models->resolve();
        run(*o);
    });
}
