// GroundedChat: renders the grounded conversation through the model's own template (the plain
// fallback for a model without one) and generates with the Generator, greedy unless asked.
#include "grounded_chat.h"

#include <slm/error.h>
#include <slm/grounded_prompt.h>

#include <algorithm>

namespace slm::cli {

GroundedChat::GroundedChat(const GroundedChatOptions& options) : options_(options) {
    model_ = Model::load(options.model);
    tokenizer_ = Tokenizer::from_model_path(options.model);
    template_ = std::make_unique<ChatTemplate>(
        model_->files().chat_template.empty() ? ChatTemplate::plain() : ChatTemplate::from_model(model_->files()));
    SessionOptions so;
    const int model_ctx = model_->config().max_position > 0 ? model_->config().max_position : 4096;
    so.n_ctx = options.n_ctx > 0 ? options.n_ctx : std::min(model_ctx, 4096);
    so.threads = options.threads;
    session_ = std::make_unique<Session>(*model_, so);
}

GroundedAnswer GroundedChat::ask(std::string_view question, std::vector<rag::Passage> passages,
                                 const std::function<void(std::string_view)>& on_text) {
    ChatRenderOptions render;
    render.add_generation_prompt = true;
    const int room = std::max(1, options_.max_tokens);
    std::vector<int32_t> ids;
    rag::FittedConversation fitted;
    auto fits = [&](const nlohmann::ordered_json& messages) {
        ids = tokenizer_->encode(template_->render(messages, render), /*add_special=*/false, /*parse_special=*/true);
        return int(ids.size()) + room <= session_->n_ctx();
    };
    while (true) {
        fitted = rag::fit_grounded_messages(history_, question, std::move(passages), fits);
        if (fitted.fits) break;
        passages = std::move(fitted.passages);  // none left: earlier turns go next
        if (history_.empty()) fail("the question does not fit the model's context of {} tokens", session_->n_ctx());
        history_.erase(history_.begin(), history_.begin() + std::min<long>(2, long(history_.size())));
    }
    SamplerParams params;
    params.temperature = options_.temperature;
    params.seed = options_.seed;
    SamplerChain sampler(params);
    Generator generator(*session_, *tokenizer_, end_of_generation_ids(*model_, *tokenizer_));
    GenerationOptions go;
    go.max_tokens = options_.max_tokens;
    GroundedAnswer answer;
    answer.result = generator.generate(ids, sampler, go, on_text);
    answer.text = answer.result.text;
    answer.passages = std::move(fitted.passages);
    history_.push_back({{"role", "user"}, {"content", std::string(question)}});
    history_.push_back({{"role", "assistant"}, {"content", answer.text}});
    return answer;
}

std::vector<rag::Passage> GroundedChat::rerank(std::string_view question, std::vector<rag::Passage> candidates,
                                               int k) {
    if (!reranker_) reranker_ = std::make_unique<rag::Reranker>(*model_, *tokenizer_, session_->pool());
    return reranker_->rerank(question, std::move(candidates), k);
}

void GroundedChat::clear() {
    history_ = nlohmann::ordered_json::array();
    session_->clear();
}

}  // namespace slm::cli
