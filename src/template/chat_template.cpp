// ChatTemplate: the context transformers builds for a chat template (messages, tools, documents,
// add_generation_prompt, the tokenizer's special tokens, extra keyword variables), rendered with
// slm::jinja; and the lookup of a model's own template.
#include <slm/chat_template.h>
#include <slm/error.h>
#include <slm/jinja.h>
#include <slm/model_config.h>

#include <nlohmann/json.hpp>

namespace slm {

namespace {
// Documented in docs/chat.md; used only when the user asks for it (never silently).
const char* const kPlainTemplate =
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}";
}  // namespace

ChatTemplate::ChatTemplate(const std::string& source, std::map<std::string, std::string> special_tokens, std::string name)
    : source_(source), special_tokens_(std::move(special_tokens)),
      template_(std::make_unique<jinja::Template>(source, std::move(name))) {}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

ChatTemplate ChatTemplate::from_model(const ModelFiles& model) {
    if (model.chat_template.empty())
        fail("{}: the model has no chat template (no chat_template.jinja, no 'chat_template' in "
             "tokenizer_config.json, no GGUF tokenizer.chat_template); pass a template file, or use the plain "
             "fallback format explicitly",
             model.path);
    std::map<std::string, std::string> tokens;
    const TokenizerConfig& t = model.tokenizer_config;
    const std::pair<const char*, const std::optional<std::string>*> known[] = {
        {"bos_token", &t.bos_token}, {"eos_token", &t.eos_token}, {"unk_token", &t.unk_token}, {"pad_token", &t.pad_token}};
    for (const auto& [name, value] : known)
        if (value->has_value()) tokens[name] = **value;
    return ChatTemplate(model.chat_template, std::move(tokens), model.path + " chat template");
}

ChatTemplate ChatTemplate::plain() { return ChatTemplate(kPlainTemplate, {}, "plain chat format"); }

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const ChatRenderOptions& options) const {
    if (!messages.is_array()) fail("chat messages must be a JSON list of {{\"role\", \"content\"}} objects");
    // transformers: render(messages=…, tools=…, documents=…, add_generation_prompt=…, **special_tokens, **kwargs)
    nlohmann::ordered_json context = nlohmann::ordered_json::object();
    for (const auto& [name, value] : special_tokens_) context[name] = value;
    for (const auto& [name, value] : options.variables) context[name] = value;
    context["messages"] = messages;
    context["tools"] = options.tools ? *options.tools : nlohmann::ordered_json(nullptr);
    context["documents"] = options.documents ? *options.documents : nlohmann::ordered_json(nullptr);
    context["add_generation_prompt"] = options.add_generation_prompt;
    return template_->render(context);
}

}  // namespace slm
