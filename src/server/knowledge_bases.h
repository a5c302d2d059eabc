// ServedKnowledgeBases: the `--rag` knowledge bases of a server, opened read-only at start with
// each embedding model loaded once; a request's `rag` field, retrieval for it, and the listing
// GET /v1/rag/kbs gives the chat page.
#pragma once

#include "server/json_fields.h"

#include <slm/rag.h>
#include <slm/server.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slm::server {

// What a request's `rag` field asks for: {"kb": NAME, "k": 1-50 (default 5), "mode": "hybrid"
// (default) | "bm25" | "vector", "rerank": false (default) | true (rag::rerank_candidates' default
// count) | N (1-200 candidates)}.
struct RagChoice {
    std::string kb;
    int k = 5;
    rag::RetrievalMode mode = rag::RetrievalMode::hybrid;
    int rerank = -1;  // -1: no rerank; 0: the default number of candidates; else that many
};

class ServedKnowledgeBases {
public:
    // Opens every KB for reading and loads the embedding model each recorded (once per model):
    // slm::Error naming the file when a KB is missing or unreadable, when its model is gone or
    // cannot be loaded, when the model loaded is not the one the KB was built with, or when two
    // KBs share a name.
    ServedKnowledgeBases(const std::vector<ServerKnowledgeBase>& kbs, int threads);
    ~ServedKnowledgeBases();

    bool empty() const { return kbs_.empty(); }
    // The request's `rag` field, or nullopt when absent; 400 naming the field when malformed, and
    // for an unknown kb, naming the ones served.
    std::optional<RagChoice> parse_field(const JsonFields& body) const;
    // The passages for `query`, best first. Retrievals run one at a time: a KB's SQLite
    // statements and an embedder's buffers are not shared between threads (each takes
    // milliseconds next to a generation's seconds).
    // `depth` passages when positive (the candidates of a rerank), else choice.k.
    std::vector<rag::Passage> retrieve(const RagChoice& choice, std::string_view query, int depth = 0);
    // Read afresh each time (a KB may be re-indexed while served):
    // [{"name", "path", "sources", "chunks", "embedding_model", "embedding_model_path", "dim",
    //   "search"}] in --rag order.
    nlohmann::json list() const;

private:
    struct Served;
    std::vector<std::unique_ptr<Served>> kbs_;
    mutable std::mutex mutex_;
};

}  // namespace slm::server
