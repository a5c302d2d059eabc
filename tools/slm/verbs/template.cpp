// `slm template render`: prints the prompt a chat template makes of a conversation, byte for byte
// as transformers' apply_chat_template(..., tokenize=False) would, so templates can be debugged.
#include <CLI/CLI.hpp>
#include <slm/chat_template.h>
#include <slm/error.h>
#include <slm/model_config.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model_arg.h"

namespace {

struct RenderOptions {
    std::string template_file, model, messages_file, tools_file, documents_file;
    bool add_generation_prompt = false;
    std::vector<std::string> variables;
};

std::string read_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) slm::fail("cannot read {} file '{}'", what, path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

nlohmann::ordered_json read_json(const std::string& path, const char* what) {
    try {
        return nlohmann::ordered_json::parse(read_file(path, what));
    } catch (const nlohmann::json::exception& e) {
        slm::fail("{}: not valid JSON ({})", path, e.what());
    }
}

void render(const RenderOptions& o) {
    if (o.template_file.empty() == o.model.empty()) slm::fail("give exactly one of --template FILE or --model PATH");
    std::unique_ptr<slm::ChatTemplate> chat;
    if (!o.template_file.empty()) {
        chat = std::make_unique<slm::ChatTemplate>(read_file(o.template_file, "template"), std::map<std::string, std::string>{},
                                                   o.template_file);
    } else {
        chat = std::make_unique<slm::ChatTemplate>(slm::ChatTemplate::from_model(slm::ModelFiles::open(o.model)));
    }
    nlohmann::ordered_json messages = read_json(o.messages_file, "messages");
    if (messages.is_object() && messages.contains("messages")) messages = nlohmann::ordered_json(messages["messages"]);
    if (!messages.is_array()) slm::fail("{}: expected a JSON list of messages (or an object with \"messages\")", o.messages_file);
    slm::ChatRenderOptions options;
    options.add_generation_prompt = o.add_generation_prompt;
    nlohmann::ordered_json tools, documents;
    if (!o.tools_file.empty()) {
        tools = read_json(o.tools_file, "tools");
        options.tools = &tools;
    }
    if (!o.documents_file.empty()) {
        documents = read_json(o.documents_file, "documents");
        options.documents = &documents;
    }
    for (const auto& v : o.variables) {
        size_t eq = v.find('=');
        if (eq == std::string::npos || eq == 0) slm::fail("--var '{}': expected NAME=VALUE", v);
        options.variables[v.substr(0, eq)] = v.substr(eq + 1);
    }
    const std::string prompt = chat->render(messages, options);
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    std::fflush(stdout);
}

}  // namespace

void add_verb_template(CLI::App& app) {
    auto* verb = app.add_subcommand("template", "Chat templates: render a conversation exactly as transformers does");
    verb->require_subcommand(1);
    auto* cmd = verb->add_subcommand("render", "Print the prompt a chat template makes of a conversation (nothing added)");
    auto o = std::make_shared<RenderOptions>();
    cmd->add_option("--template", o->template_file, "Jinja chat template file");
    auto models = std::make_shared<slm::cli::ModelArgs>(cmd);
    models->add("--model", o->model, "Use this model's own template and special tokens instead (HF dir or .gguf)");
    cmd->add_option("--messages", o->messages_file, "JSON file: a list of {role, content, …} messages")->required();
    cmd->add_flag("--add-generation-prompt", o->add_generation_prompt, "End with the start of an assistant turn");
    cmd->add_option("--var", o->variables, "Set a string variable, e.g. bos_token=<s> or date_string='26 Jul 2024'");
    cmd->add_option("--tools", o->tools_file, "JSON file: a list of tool schemas (tools is none otherwise)");
    cmd->add_option("--documents", o->documents_file, "JSON file: a list of documents (documents is none otherwise)");
    cmd->callback([o, models] {
        models->resolve();
        render(*o);
    });
}
