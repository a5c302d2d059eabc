// ServedKnowledgeBases: each `--rag` KB opened for reading, its embedding model loaded from the
// path the KB records (as `slm rag query` does) and checked against the id it records.
#include "server/knowledge_bases.h"

#include "server/api_error.h"

#include <slm/error.h>

#include <fmt/format.h>

#include <filesystem>
#include <map>

namespace slm::server {

using nlohmann::json;

struct ServedKnowledgeBases::Served {
    std::string name, path;
    rag::KnowledgeBase kb;
    std::shared_ptr<rag::TextEmbedder> embedder;
};

ServedKnowledgeBases::ServedKnowledgeBases(const std::vector<ServerKnowledgeBase>& kbs, int threads) {
    std::map<std::string, std::shared_ptr<rag::TextEmbedder>> embedders;  // by model path: each loaded once
    for (const ServerKnowledgeBase& given : kbs) {
        for (const auto& other : kbs_)
            if (other->name == given.name)
                fail("--rag {}: a knowledge base named '{}' is already served ({}); name one NAME=PATH", given.path,
                     given.name, other->path);
        auto kb = rag::KnowledgeBase::open(given.path, rag::KnowledgeBase::Access::read);
        const rag::KnowledgeBaseInfo info = kb.info();
        const std::string& model = info.embed_model_path;
        if (model.empty()) fail("{}: the KB does not record its embedding model's path", given.path);
        if (!std::filesystem::exists(model))
            fail("{}: its embedding model {} is gone (re-index the KB with a model that exists)", given.path, model);
        auto& embedder = embedders[model];
        if (!embedder) {
            try {
                embedder = rag::open_model_embedder(model, threads);
            } catch (const Error& e) {
                fail("{}: its embedding model cannot be loaded: {}", given.path, e.what());
            }
        }
        if (embedder->id() != info.embed_model_id)
            fail("{}: built with embedding model '{}', but {} is now '{}'; re-index it with --reembed", given.path,
                 info.embed_model_id, model, embedder->id());
        kbs_.push_back(std::make_unique<Served>(Served{given.name, given.path, std::move(kb), embedder}));
    }
}

ServedKnowledgeBases::~ServedKnowledgeBases() = default;

std::optional<RagChoice> ServedKnowledgeBases::parse_field(const JsonFields& body) const {
    const auto field = body.object("rag");
    if (!field) return std::nullopt;
    for (const auto& [key, value] : field->json().items())
        if (key != "kb" && key != "k" && key != "mode")
            throw_invalid(field->path_of(key),
                          fmt::format("'{}' is not a field of 'rag' (kb, k, mode)", field->path_of(key)));
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
    return choice;
}

std::vector<rag::Passage> ServedKnowledgeBases::retrieve(const RagChoice& choice, std::string_view query) {
    for (const auto& s : kbs_) {
        if (s->name != choice.kb) continue;
        std::lock_guard lock(mutex_);
        return s->kb.retrieve(query, choice.k, choice.mode, s->embedder.get());
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
