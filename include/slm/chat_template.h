// ChatTemplate: turns a conversation (messages, optional tools and documents) into the prompt text
// the model was trained on, by rendering the model's own Jinja chat template exactly as Hugging
// Face transformers' apply_chat_template(..., tokenize=False) does.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <memory>
#include <string>

namespace slm {

struct ModelFiles;
namespace jinja {
class Template;
}

struct ChatRenderOptions {
    bool add_generation_prompt = false;
    const nlohmann::ordered_json* tools = nullptr;      // a list of tool schemas; none when null
    const nlohmann::ordered_json* documents = nullptr;  // a list of {title, text}; none when null
    // Extra string variables (date_string, …); they override the special tokens of the same name.
    std::map<std::string, std::string> variables;
};

class ChatTemplate {
public:
    // `special_tokens`: bos_token, eos_token, … as the tokenizer defines them (absent ones stay
    // undefined in the template, as with transformers). Throws jinja::TemplateError on a syntax error.
    explicit ChatTemplate(const std::string& source, std::map<std::string, std::string> special_tokens = {},
                          std::string name = "chat_template");
    ~ChatTemplate();
    ChatTemplate(ChatTemplate&&) noexcept;
    ChatTemplate& operator=(ChatTemplate&&) noexcept;

    // The model's own template (chat_template.jinja, tokenizer_config.json or GGUF
    // tokenizer.chat_template) with its special tokens; throws slm::Error naming the model when it
    // has none (use plain() to chat with such a model anyway).
    static ChatTemplate from_model(const ModelFiles& model);
    // The documented fallback for models without a template: "<role>: <content>\n\n" per message,
    // then "assistant: " when a generation prompt is asked for.
    static ChatTemplate plain();

    // `messages`: a JSON list of {role, content, …}. Throws jinja::TemplateError (with the template
    // line and column), e.g. for the template's own raise_exception().
    std::string render(const nlohmann::ordered_json& messages, const ChatRenderOptions& options = {}) const;

    const std::string& source() const { return source_; }
    const std::map<std::string, std::string>& special_tokens() const { return special_tokens_; }

private:
    std::string source_;
    std::map<std::string, std::string> special_tokens_;
    std::unique_ptr<jinja::Template> template_;
};

}  // namespace slm
