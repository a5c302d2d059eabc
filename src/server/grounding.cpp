// A chat request's prompt, grounded when it has `rag`: retrieval with the question, the prompt
// through the shared rag::fit_grounded_messages and the model's template; the answer's citations.
#include "server/grounding.h"

#include "server/api_error.h"

#include <slm/grounded_prompt.h>
#include <slm/reranker.h>

#include <fmt/format.h>

#include <algorithm>

namespace slm::server {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// The request's k passages: retrieved directly, or the best k of more candidates by the model's
// rerank scores.
std::vector<rag::Passage> grounding_passages(Engine& engine, ServedKnowledgeBases& kbs, const RagChoice& rag,
                                             const std::string& question) {
    if (rag.rerank < 0) return kbs.retrieve(rag, question);
    std::vector<rag::Passage> candidates = kbs.retrieve(rag, question, rag::rerank_candidates(rag.k, rag.rerank));
    std::vector<std::string> texts;
    texts.reserve(candidates.size());
    for (const rag::Passage& p : candidates) texts.push_back(p.text);
    const std::vector<double> scores = engine.rerank_scores(question, texts);
    return rag::rerank_passages(std::move(candidates), scores, rag.k);
}

}  // namespace

ChatPrompt chat_prompt(Engine& engine, ServedKnowledgeBases& kbs, const std::optional<RagChoice>& rag,
                       const json& messages, int max_tokens) {
    if (!rag) return {engine.tokenize(engine.render_chat(messages), /*add_special=*/false), nullptr};
    const json& last = messages.back();
    if (last.value("role", "") != "user")
        throw_invalid("messages", fmt::format("'messages' must end with the user's question when 'rag' is set; the "
                                              "last message's role is '{}'", last.value("role", "")));
    const std::string question = last.value("content", "");
    if (question.find_first_not_of(" \t\r\n") == std::string::npos)
        throw_invalid(fmt::format("messages[{}].content", messages.size() - 1),
                      "'rag' needs a question: the last user message is empty");
    ordered_json history = ordered_json::parse(messages.dump());
    history.erase(history.size() - 1);

    const int context = engine.scheduler().context_length();
    const int room = max_tokens > 0 ? max_tokens : std::max(1, std::min(256, context / 4));
    ChatPrompt out;
    auto fits = [&](const ordered_json& candidate) {
        out.prompt = engine.tokenize(engine.render_chat(json::parse(candidate.dump())), /*add_special=*/false);
        return int(out.prompt.size()) + room <= context;
    };
    auto fitted = rag::fit_grounded_messages(history, question, grounding_passages(engine, kbs, *rag, question), fits);
    // One that does not fit even without passages is refused by make_jobs, as without `rag`.
    out.passages = std::make_shared<const std::vector<rag::Passage>>(std::move(fitted.passages));
    return out;
}

json citations_json(std::span<const rag::Passage> passages, std::span<const std::string> answers) {
    std::vector<bool> cited(passages.size(), false);
    for (const std::string& answer : answers)
        for (const rag::Citation& c : rag::cited_passages(answer, passages)) cited[c.passage] = true;
    json out = json::array();
    for (size_t i = 0; i < passages.size(); ++i) {
        const rag::Passage& p = passages[i];
        out.push_back({{"number", i + 1},
                       {"source", rag::source_label(p)},
                       {"path", p.path},
                       {"page", p.page},
                       {"line_begin", p.line_begin},
                       {"line_end", p.line_end},
                       {"score", p.score},
                       {"text", p.text},
                       {"cited", bool(cited[i])}});
        if (p.rerank_score) out.back()["rerank_score"] = *p.rerank_score;
    }
    return out;
}

}  // namespace slm::server
