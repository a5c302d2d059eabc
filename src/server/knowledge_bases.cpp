// ServedKnowledgeBases: each `--rag` KB opened for reading, its embedding model loaded with the
// path and pooling the KB records (rag::open_kb_embedder, as `slm rag query` does).
#include "server/knowledge_bases.h"

#include "server/api_error.h"

#include <slm/error.h>

#include <fmt/format.h>

#include <map>

namespace slm::server {

using nlohmann::json;

struct ServedKnowledgeBases::Served {
    std::string name, path;
    rag::KnowledgeBase kb;
    std::shared_ptr<rag::TextEmbedder> embedder;
};

ServedKnowledgeBases::ServedKnowledgeBases(const std::vector<ServerKnowledgeBase>& kbs, int threads) {
    std::map<std::string, std::shared_ptr<rag::TextEmbedder>> embedders;  // by model path and pooling: each loaded once
    for (const ServerKnowledgeBase& given : kbs) {
        for (const auto& other : kbs_)
            if (other->name == given.name)
                fail("--rag {}: a knowledge base named '{}' is already served ({}); name one NAME=PATH", given.path,
                     given.name, other->path);
        auto kb = rag::KnowledgeBase::open(given.path, rag::KnowledgeBase::Access::read);
        // The model and pooling the KB recorded, shared by the KBs that recorded the same ones.
        const rag::KbEmbedderChoice choice = rag::kb_embedder_choice(kb);
        auto& embedder = embedders[choice.path + "\n" + choice.pooling];
        if (!embedder)
            embedder = rag::open_kb_embedder(kb, "", threads);
        else
            rag::check_kb_embedder(kb, *embedder);
        kbs_.push_back(std::make_unique<Served>(Served{given.name, given.path, std::move(kb), embedder}));
    }
}

ServedKnowledgeBases::~ServedKnowledgeBases() = default;

std::optional<RagChoice> ServedKnowledgeBases::parse_field(const JsonFields& body) const {
    const auto field = body.object("rag");
    if (!field) return std::nullopt;
    for (const auto& [key, value] : field->json().items())
        if (key != "kb" && key != "k" && key != "mode" && key != "rerank")
            throw_invalid(field->path_of(key),
                          fmt::format("'{}' is not a field of 'rag' (kb, k, mode, rerank)", field->path_of(key)));
    RagChoice choice;
    const auto kb = field->string("kb");
    if (!kb) throw_invalid("rag.kb", "'rag.kb' is required: the knowledge base to ground the answer in");
    std::string served;
    for (const auto& s : kbs_) served += (served.empty() ? "" : ", ") + s->name;
    if (kbs_.empty())
        throw_invalid("rag.kb", fmt::format("'rag.kb' is '{}', but this server has no knowledge bases (slm serve "
                                            "MODEL --rag KB)", *kb));
    bool found = false;
    for (const auto& s : kbs_) found = found || s->name == *kb;
    if (!found)
        throw ApiError(400, fmt::format("'rag.kb' is '{}': no such knowledge base; this server has: {}", *kb, served),
                       "invalid_request_error", "rag.kb", "knowledge_base_not_found");
    choice.kb = *kb;
    choice.k = int(field->integer("k", 1, 50).value_or(5));
    if (const auto mode = field->string("mode")) {
        if (*mode != "hybrid" && *mode != "bm25" && *mode != "vector")
            throw_invalid("rag.mode", fmt::format("'rag.mode' is '{}'; expected hybrid, bm25 or vector", *mode));
        choice.mode = rag::parse_retrieval_mode(*mode);
    }
    if (const json* rerank = field->get("rerank")) {
        if (rerank->is_boolean())
            choice.rerank = rerank->get<bool>() ? 0 : -1;
        else if (rerank->is_number())
            choice.rerank = int(field->integer("rerank", 1, 200).value_or(0));
        else
            throw_invalid("rag.rerank", fmt::format("'rag.rerank' is {}; expected true, false or the number of "
                                                    "candidates to score (1-200)", json_type_name(*rerank)));
    }
    return choice;
}

std::vector<rag::Passage> ServedKnowledgeBases::retrieve(const RagChoice& choice, std::string_view query, int depth) {
    for (const auto& s : kbs_) {
        if (s->name != choice.kb) continue;
        std::lock_guard lock(mutex_);
        return s->kb.retrieve(query, depth > 0 ? depth : choice.k, choice.mode, s->embedder.get());
    }
    throw_invalid("rag.kb", fmt::format("'rag.kb' is '{}': no such knowledge base", choice.kb));
}

json ServedKnowledgeBases::list() const {
    json out = json::array();
    std::lock_guard lock(mutex_);
    for (const auto& s : kbs_) {
        const rag::KnowledgeBaseInfo info = s->kb.info();
        out.push_back({{"name", s->name},
                       {"path", s->path},
                       {"sources", info.sources},
                       {"chunks", info.chunks},
                       {"embedding_model", info.embed_model_id},
                       {"embedding_model_path", info.embed_model_path},
                       {"dim", info.dim},
                       {"search", info.ann_index ? "hnsw" : "exact"}});
    }
    return out;
}

}  // namespace slm::server
