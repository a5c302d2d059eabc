// Grounded chat requests (the `rag` field): the last user message retrieves passages from a
// served knowledge base, the conversation is rebuilt with them numbered into that turn by
// rag::fit_grounded_messages (what `slm rag query` uses) and rendered by the model's template;
// responses carry the passages as `citations` (docs/serving.md, Grounded answers).
#pragma once

#include "server/engine.h"
#include "server/knowledge_bases.h"

#include <slm/rag.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace slm::server {

// The passages a grounded request's prompt holds, numbered 1..n, shared with the writers of its
// response; null for a request without `rag`.
using GroundedPassages = std::shared_ptr<const std::vector<rag::Passage>>;

struct ChatPrompt {
    std::vector<int32_t> prompt;  // rendered by the model's template and tokenized
    GroundedPassages passages;
};

// The prompt of a chat request: `messages` (normalized) rendered as they are when `rag` is
// absent; else grounded: the last message must be the user's question (400 naming `messages`
// otherwise), and passages that would leave less than `max_tokens` of the context for the answer
// (0: a quarter of it, at most 256, the answer length of `slm rag query`) are dropped from the end.
// With `rerank`, more candidates are retrieved and the model's Engine::rerank_scores keeps k.
ChatPrompt chat_prompt(Engine& engine, ServedKnowledgeBases& kbs, const std::optional<RagChoice>& rag,
                       const nlohmann::json& messages, int max_tokens);

// The passages as responses carry them: [{"number", "source" (path:lines, path p.N:lines),
// "path", "page" (0: no pages), "line_begin", "line_end", "score", "text", "cited"}, and
// "rerank_score" when reranked], where `cited` says whether one of `answers` cites the passage as [number].
nlohmann::json citations_json(std::span<const rag::Passage> passages, std::span<const std::string> answers);

}  // namespace slm::server
