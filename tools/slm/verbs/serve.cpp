// `slm serve MODEL [--host 127.0.0.1] [--port 8080] [--parallel N] [--ctx N] [--api-key KEY]
// [--threads N] [--lora [NAME=]PATH[:SCALE]]… [--rag [NAME=]KB]… …`: the OpenAI- and
// ollama-compatible HTTP server (docs/serving.md), with LoRA adapters that requests pick and
// knowledge bases they may ground answers in. Runs until
// SIGINT or SIGTERM, then shuts down gracefully (in-flight requests finish or are cancelled).
#include <CLI/CLI.hpp>
#include <slm/error.h>
#include <slm/lora_files.h>
#include <slm/hub.h>
#include <slm/server.h>

#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "device_option.h"
#include "model_arg.h"

namespace {

// "[NAME=]PATH[:SCALE]": NAME is what requests call the adapter (MODEL:NAME). A prefix counts as a
// name only when it has no '/' and the whole text is not an existing path.
slm::ServerLora parse_serve_lora(const std::string& text) {
    slm::ServerLora lora;
    std::string rest = text;
    const size_t eq = text.find('=');
    if (eq != std::string::npos && eq > 0 && text.substr(0, eq).find('/') == std::string::npos &&
        !std::filesystem::exists(text)) {
        lora.name = text.substr(0, eq);
        rest = text.substr(eq + 1);
    }
    const slm::LoraSpec spec = slm::parse_lora_spec(rest);
    lora.path = spec.path;
    lora.scale = spec.scale;
    return lora;
}

// "[NAME=]PATH": NAME is what requests call the knowledge base ("rag": {"kb": NAME}); without
// one, the file's stem (docs.kb: docs). A prefix counts as a name as for --lora.
slm::ServerKnowledgeBase parse_serve_kb(const std::string& text) {
    const size_t eq = text.find('=');
    if (eq != std::string::npos && eq > 0 && text.substr(0, eq).find('/') == std::string::npos &&
        !std::filesystem::exists(text))
        return {text.substr(0, eq), text.substr(eq + 1)};
    return {std::filesystem::path(text).stem().string(), text};
}

void run_serve(slm::ServerOptions options, const std::vector<std::string>& lora_specs,
               const std::vector<std::string>& kb_specs) {
    for (const auto& spec : lora_specs) options.lora.push_back(parse_serve_lora(spec));
    for (const auto& spec : kb_specs) options.rag.push_back(parse_serve_kb(spec));
    if (options.api_key.empty())
        if (const char* key = std::getenv("SLM_API_KEY"); key && *key) options.api_key = key;
    // Signals are taken by this thread alone (sigwait): every thread the server starts inherits
    // the blocked mask, so a Ctrl-C never lands in the middle of a request's work.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    const std::string host = options.host;
    const bool webui = options.webui;
    slm::Server server(std::move(options));
    const int port = server.start();
    fmt::print(stderr, "slm serve: listening on http://{}:{} ({}OpenAI API under /v1, ollama API under /api)\n", host,
               port, webui ? "chat page at /, " : "");
    int received = 0;
    sigwait(&signals, &received);
    fmt::print(stderr, "slm serve: {} received, finishing in-flight requests\n", received == SIGINT ? "SIGINT" : "SIGTERM");
    // A second signal during the grace time stops at once.
    std::thread second([&] {
        int again = 0;
        sigwait(&signals, &again);
        std::_Exit(130);
    });
    second.detach();
    server.stop();
    fmt::print(stderr, "slm serve: stopped\n");
}

}  // namespace

void add_verb_serve(CLI::App& app) {
    auto options = std::make_shared<slm::ServerOptions>();
    auto lora_specs = std::make_shared<std::vector<std::string>>();
    auto kb_specs = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = app.add_subcommand("serve", "Serve a model over OpenAI- and ollama-compatible HTTP APIs");
    auto models = std::make_shared<slm::cli::ModelArgs>(cmd);
    models->add("model", options->model_path, "Model: HF directory or .gguf file")->required();
    cmd->add_option("--host", options->host, "Address to listen on")->capture_default_str();
    cmd->add_option("--port", options->port, "Port to listen on (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
    cmd->add_option("--parallel", options->parallel, "Requests decoded together (KV-cache sequences)")->capture_default_str()->check(CLI::Range(1, 256));
    cmd->add_option("--ctx", options->context, "Context tokens per sequence (0: the model's, at most 4096)")->capture_default_str()->check(CLI::Range(0, 1 << 20));
    cmd->add_option("--api-key", options->api_key, "Require 'Authorization: Bearer KEY' (also $SLM_API_KEY)");
    cmd->add_option("--threads", options->threads, "Compute threads (0: one per core)")->capture_default_str()->check(CLI::Range(0, 1024));
    options->device = "auto";
    slm::cli::add_device_option(cmd, options->device, options->gpu_layers);
    cmd->add_option("--queue", options->queue_size, "Requests that may wait for a free sequence; more get 429")->capture_default_str()->check(CLI::Range(0, 100000));
    cmd->add_option("--batch", options->batch_tokens, "Most tokens in one forward (prompt chunks + decode tokens)")->capture_default_str()->check(CLI::Range(1, 1 << 16));
    cmd->add_option("--name", options->model_name, "Model id clients use (default: org/name for a model name, else the file or folder name)");
    cmd->add_option("--max-body", options->max_body_bytes, "Largest request body in bytes; larger gets 413")->capture_default_str();
    cmd->add_option("--cors-origin", options->cors_origin, "Access-Control-Allow-Origin value (empty: no CORS)")->capture_default_str();
    cmd->add_option("--http-threads", options->http_threads, "Connections served at once")->capture_default_str()->check(CLI::Range(4, 4096));
    cmd->add_option("--grace-ms", options->shutdown_grace_ms, "On SIGINT/SIGTERM, time in-flight requests get to finish")->capture_default_str();
    cmd->add_option("--heartbeat-ms", options->heartbeat_ms,
                    "Non-streaming answers still running after 2x this get a space every interval (to notice clients that left)")
        ->capture_default_str()
        ->check(CLI::Range(1, 600000));
    cmd->add_flag("--quiet{false}", options->log_requests, "No request log on stderr");
    cmd->add_flag("--no-webui{false}", options->webui, "Do not serve the web chat page at / (docs/webui.md)");
    cmd->add_option("--lora", *lora_specs,
                    "LoRA adapter requests may pick (PEFT directory or GGUF LoRA file; NAME defaults to its base name, "
                    "SCALE to 1); repeatable, ids in order from 0")
        ->type_name("[NAME=]PATH[:SCALE]");
    cmd->add_flag("--lora-init-without-apply", options->lora_init_without_apply,
                  "Requests that name no adapter run without adapters (default: with all, at their scales)");
    cmd->add_option("--rag", *kb_specs,
                    "Knowledge base (slm rag index) chat requests may ground answers in with their 'rag' field; NAME "
                    "defaults to the file's stem; repeatable (docs/rag.md)")
        ->type_name("[NAME=]KB");
    cmd->callback([options, lora_specs, kb_specs, models] {
        models->resolve();
        if (const auto ref = models->name_of(options->model_path)) {
            if (options->model_name.empty()) options->model_name = ref->repo;
            options->model_aliases.push_back(ref->str());  // org/name@rev:QUANT as given
            if (!ref->quant.empty()) options->model_aliases.push_back(ref->repo + ":" + ref->quant);
        }
        options->hub = slm::HubOptions::from_env();
        run_serve(*options, *lora_specs, *kb_specs);
    });
}
