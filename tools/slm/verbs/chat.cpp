// `slm chat MODEL`: an interactive conversation, ollama-style. Each turn renders the whole
// conversation with the model's own chat template; the Session keeps the previous turns in its KV
// cache, so only the tokens after the common prefix are processed. Commands start with '/'.
#include <CLI/CLI.hpp>
#include <slm/chat_template.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/generator.h>
#include <slm/model.h>
#include <slm/sampler.h>
#include <slm/session.h>
#include <slm/tokenizer.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "device_option.h"
#include "line_input.h"
#include "lora_option.h"
#include "model_arg.h"

namespace {

using namespace slm;
using nlohmann::ordered_json;

struct ChatOptions {
    std::string model, system, template_file, device = "auto";
    int gpu_layers = -1;
    std::vector<std::string> lora;
    bool plain = false, verbose = false, greedy = false;
    int n_predict = 512, n_ctx = 0, threads = 0;
    float temperature = 0, top_p = 0, min_p = 0, repeat_penalty = 0;
    int top_k = 0;
    uint64_t seed = 0;
    CLI::Option *temp_opt = nullptr, *top_k_opt = nullptr, *top_p_opt = nullptr, *min_p_opt = nullptr,
                *repeat_opt = nullptr, *seed_opt = nullptr;
};

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) { g_interrupted = 1; }
struct Interrupted {};  // thrown from the streaming callback to stop the answer

const char* const kHelp =
    "Available commands:\n"
    "  /set parameter NAME VALUE   temperature, top_k, top_p, min_p, repeat_penalty, seed, num_predict\n"
    "  /set system TEXT            replace the system message\n"
    "  /clear                      forget the conversation (the system message stays)\n"
    "  /save FILE                  write the conversation as JSON\n"
    "  /load FILE                  continue a conversation saved with /save\n"
    "  /bye                        leave (Ctrl-D too)\n"
    "  /help                       this list\n"
    "Ctrl-C stops the current answer.\n";

class ChatLoop {
public:
    explicit ChatLoop(const ChatOptions& o) : o_(o) {
        model_ = Model::load(o.model, cli::model_options_for(o.device, o.gpu_layers));
        tokenizer_ = Tokenizer::from_model_path(o.model);
        if (!o.template_file.empty()) chat_ = std::make_unique<ChatTemplate>(read_text_file(o.template_file), special_tokens(), o.template_file);
        else if (model_->files().chat_template.empty() && o.plain) chat_ = std::make_unique<ChatTemplate>(ChatTemplate::plain());
        else chat_ = std::make_unique<ChatTemplate>(ChatTemplate::from_model(model_->files()));
        SessionOptions so;
        const int model_ctx = model_->config().max_position > 0 ? model_->config().max_position : 4096;
        so.n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min(model_ctx, 4096);
        so.threads = o.threads;
        so.adapters = cli::load_lora_option(*model_, o.lora);
        session_ = std::make_unique<Session>(*model_, so);
        params_ = SamplerParams::from_generation_defaults(model_->files().generation);
        if (o.temp_opt->count()) params_.temperature = o.temperature;
        if (o.top_k_opt->count()) params_.top_k = o.top_k;
        if (o.top_p_opt->count()) params_.top_p = o.top_p;
        if (o.min_p_opt->count()) params_.min_p = o.min_p;
        if (o.repeat_opt->count()) params_.repeat_penalty = o.repeat_penalty;
        params_.seed = o.seed_opt->count() ? o.seed : std::random_device{}();
        if (o.greedy) params_.temperature = 0;
        n_predict_ = o.n_predict;
        messages_ = ordered_json::array();
        if (!o.system.empty()) messages_.push_back({{"role", "system"}, {"content", o.system}});
    }

    void run() {
        const bool terminal = isatty(STDIN_FILENO);
        std::string line;
        while (cli::read_input_line(terminal, ">>> ", line)) {
            if (line.empty()) continue;
            if (line[0] == '/') {
                if (!command(line)) break;
                continue;
            }
            answer(line);
        }
    }

private:
    const ChatOptions& o_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<Tokenizer> tokenizer_;
    std::unique_ptr<ChatTemplate> chat_;
    std::unique_ptr<Session> session_;
    SamplerParams params_;
    int n_predict_ = 512;
    ordered_json messages_;
    int turn_ = 0;

    std::map<std::string, std::string> special_tokens() const {
        std::map<std::string, std::string> tokens;
        const TokenizerConfig& t = model_->files().tokenizer_config;
        if (t.bos_token) tokens["bos_token"] = *t.bos_token;
        if (t.eos_token) tokens["eos_token"] = *t.eos_token;
        return tokens;
    }



    void system_message(const std::string& text) {
        if (!messages_.empty() && messages_[0]["role"] == "system") messages_.erase(messages_.begin());
        if (!text.empty()) messages_.insert(messages_.begin(), ordered_json{{"role", "system"}, {"content", text}});
    }

    // The prompt tokens for the conversation so far; drops the oldest turns (never the system
    // message) while the prompt and the answer would not fit the context.
    std::vector<int32_t> prompt_tokens(std::string& prompt) {
        while (true) {
            ChatRenderOptions options;
            options.add_generation_prompt = true;
            prompt = chat_->render(messages_, options);
            std::vector<int32_t> ids = tokenizer_->encode(prompt, /*add_special=*/false, /*parse_special=*/true);
            const int room = n_predict_ > 0 ? n_predict_ : 1;
            if (static_cast<int>(ids.size()) + room <= session_->n_ctx()) return ids;
            size_t first = !messages_.empty() && messages_[0]["role"] == "system" ? 1 : 0;
            if (messages_.size() <= first + 1)
                fail("the message does not fit the context of {} tokens ({} prompt tokens); use a larger --ctx", session_->n_ctx(),
                     ids.size());
            std::fprintf(stderr, "[context full: dropping the oldest message to continue]\n");
            messages_.erase(messages_.begin() + static_cast<long>(first));
        }
    }

    void answer(const std::string& user_text) {
        messages_.push_back({{"role", "user"}, {"content", user_text}});
        std::string prompt;
        std::vector<int32_t> ids;
        try {
            ids = prompt_tokens(prompt);
        } catch (const Error& e) {
            messages_.erase(messages_.end() - 1);
            std::fprintf(stderr, "error: %s\n", e.what());
            return;
        }
        SamplerChain sampler(params_);
        Generator generator(*session_, *tokenizer_, end_of_generation_ids(*model_, *tokenizer_));
        GenerationOptions go;
        go.max_tokens = n_predict_;
        std::string shown;
        g_interrupted = 0;
        struct sigaction action {}, previous {};
        action.sa_handler = on_sigint;
        sigaction(SIGINT, &action, &previous);
        GenerationResult r;
        bool stopped = false;
        try {
            r = generator.generate(ids, sampler, go, [&](std::string_view piece) {
                std::fwrite(piece.data(), 1, piece.size(), stdout);
                std::fflush(stdout);
                shown += piece;
                if (g_interrupted) throw Interrupted{};
            });
        } catch (const Interrupted&) {
            stopped = true;
        }
        sigaction(SIGINT, &previous, nullptr);
        std::fputs(stopped ? "\n[stopped]\n\n" : "\n\n", stdout);
        std::fflush(stdout);
        messages_.push_back({{"role", "assistant"}, {"content", stopped ? shown : r.text}});
        ++turn_;
        if (o_.verbose) {
            ordered_json stats = {{"turn", turn_},
                                  {"prompt", prompt},
                                  {"prompt_tokens", ids.size()},
                                  {"reused_tokens", stopped ? session_->reused_tokens() : r.timings.reused_tokens},
                                  {"processed_tokens", stopped ? -1 : r.timings.prompt_tokens},
                                  {"generated_tokens", stopped ? -1 : r.timings.generated_tokens},
                                  {"stop", stopped ? std::string("interrupted") : std::string(stop_reason_name(r.stop_reason))}};
            std::fprintf(stderr, "%s\n", stats.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        }
    }

    void set_parameter(const std::string& name, const std::string& value) {
        try {
            if (name == "temperature") params_.temperature = std::stof(value);
            else if (name == "top_k") params_.top_k = std::stoi(value);
            else if (name == "top_p") params_.top_p = std::stof(value);
            else if (name == "min_p") params_.min_p = std::stof(value);
            else if (name == "repeat_penalty") params_.repeat_penalty = std::stof(value);
            else if (name == "seed") params_.seed = std::stoull(value);
            else if (name == "num_predict") n_predict_ = std::stoi(value);
            else {
                std::printf("Unknown parameter '%s'. See /help.\n", name.c_str());
                return;
            }
        } catch (const std::exception&) {
            std::printf("Parameter '%s': '%s' is not a number.\n", name.c_str(), value.c_str());
            return;
        }
        std::printf("Set parameter '%s' to '%s'\n", name.c_str(), value.c_str());
    }

    // Returns false to leave.
    bool command(const std::string& line) {
        std::istringstream words(line);
        std::string cmd;
        words >> cmd;
        std::string rest;
        std::getline(words >> std::ws, rest);
        if (cmd == "/bye") return false;
        if (cmd == "/help" || cmd == "/?") {
            std::fputs(kHelp, stdout);
        } else if (cmd == "/clear") {
            ordered_json kept = ordered_json::array();
            if (!messages_.empty() && messages_[0]["role"] == "system") kept.push_back(messages_[0]);
            messages_ = kept;
            session_->clear();
            std::puts("Cleared the conversation.");
        } else if (cmd == "/set") {
            std::istringstream args(rest);
            std::string what;
            args >> what;
            std::string value;
            std::getline(args >> std::ws, value);
            if (what == "system") {
                system_message(value);
                std::puts("Set the system message.");
            } else if (what == "parameter") {
                std::istringstream nv(value);
                std::string name, v;
                nv >> name >> v;
                set_parameter(name, v);
            } else {
                std::puts("Usage: /set parameter NAME VALUE | /set system TEXT");
            }
        } else if (cmd == "/save") {
            if (rest.empty()) {
                std::puts("Usage: /save FILE");
            } else {
                write_file_atomic(rest, ordered_json{{"messages", messages_}}.dump(2) + "\n");
                std::printf("Saved the conversation to %s\n", rest.c_str());
            }
        } else if (cmd == "/load") {
            load(rest);
        } else {
            std::printf("Unknown command '%s'. Type /help for the list.\n", cmd.c_str());
        }
        std::fflush(stdout);
        return true;
    }

    void load(const std::string& path) {
        if (path.empty()) {
            std::puts("Usage: /load FILE");
            return;
        }
        try {
            ordered_json j = ordered_json::parse(read_text_file(path));
            if (j.is_object() && j.contains("messages")) j = ordered_json(j["messages"]);
            if (!j.is_array()) fail("{}: expected a list of messages or an object with \"messages\"", path);
            for (const auto& m : j)
                if (!m.is_object() || !m.contains("role")) fail("{}: every message needs a \"role\"", path);
            messages_ = j;
            std::printf("Loaded %zu messages from %s\n", messages_.size(), path.c_str());
        } catch (const std::exception& e) {
            std::printf("Cannot load %s: %s\n", path.c_str(), e.what());
        }
    }
};

}  // namespace

void add_verb_chat(CLI::App& app) {
    auto o = std::make_shared<ChatOptions>();
    auto* cmd = app.add_subcommand("chat", "Chat with a model in the terminal (its own chat template; /help for commands)");
    auto models = std::make_shared<cli::ModelArgs>(cmd);
    models->add("model", o->model, "Model: an HF directory or a .gguf file")->required();
    cmd->add_option("--system", o->system, "System message");
    cmd->add_option("--template", o->template_file, "Use this Jinja chat template instead of the model's")->check(CLI::ExistingFile);
    cmd->add_flag("--plain", o->plain, "For a model without a template: use the plain 'role: content' format");
    cmd->add_option("-n,--n-predict", o->n_predict, "Tokens per answer at most (-1: until the context is full)")->capture_default_str();
    o->temp_opt = cmd->add_option("--temp", o->temperature, "Temperature (0: greedy); default from generation_config.json");
    o->top_k_opt = cmd->add_option("--top-k", o->top_k, "Keep the k most likely tokens (0: off)");
    o->top_p_opt = cmd->add_option("--top-p", o->top_p, "Keep the most likely tokens up to this total probability (1: off)");
    o->min_p_opt = cmd->add_option("--min-p", o->min_p, "Drop tokens less likely than this times the top one (0: off)");
    o->repeat_opt = cmd->add_option("--repeat-penalty", o->repeat_penalty, "Penalty on recently seen tokens (1: off)");
    o->seed_opt = cmd->add_option("--seed,-s", o->seed, "Random seed (default: random)");
    cmd->add_flag("--greedy", o->greedy, "Always take the most likely token (same as --temp 0)");
    cmd->add_option("--ctx,-c", o->n_ctx, "Context size in tokens (default: the model's, at most 4096)");
    cmd->add_option("--threads,-t", o->threads, "Worker threads (default: one per CPU)");
    cli::add_lora_option(cmd, o->lora);
    cli::add_device_option(cmd, o->device, o->gpu_layers);
    cmd->add_flag("--verbose", o->verbose, "After each answer, print one JSON line of prompt and token counts to stderr");
    cmd->callback([o, models] {
        models->resolve();
        ChatLoop(*o).run();
    });
}
