// KnowledgeBase: opening (reader or writer), listing and removing sources, and retrieval by
// BM25, vectors, or both fused (by reciprocal rank or by normalised score).
#include <fmt/format.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/rag.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <unordered_map>

#include "rag/kb_store.h"
#include "rag/rank_fusion.h"
#include "rag/vector_index.h"

namespace slm::rag {

RetrievalMode parse_retrieval_mode(std::string_view name) {
    if (name == "bm25") return RetrievalMode::bm25;
    if (name == "vector") return RetrievalMode::vector;
    if (name == "hybrid") return RetrievalMode::hybrid;
    fail("retrieval mode '{}': expected bm25, vector or hybrid", name);
}

std::string_view retrieval_mode_name(RetrievalMode mode) {
    switch (mode) {
        case RetrievalMode::bm25:
            return "bm25";
        case RetrievalMode::vector:
            return "vector";
        case RetrievalMode::hybrid:
            return "hybrid";
    }
    return "?";
}

Fusion parse_fusion(std::string_view spec) {
    Fusion f;
    const size_t colon = spec.find(':');
    const std::string_view method = spec.substr(0, colon);
    if (method == "rrf")
        f = {FusionMethod::rrf, 1.0, 1.0};
    else if (method != "relative")
        fail("fusion '{}': expected rrf or relative, optionally with :BM25_WEIGHT,VECTOR_WEIGHT", spec);
    if (colon == std::string_view::npos) return f;
    const std::string weights(spec.substr(colon + 1));
    const size_t comma = weights.find(',');
    double w[2] = {0, 0};
    try {
        size_t used0 = 0, used1 = 0;
        if (comma == std::string::npos) throw std::invalid_argument("one weight");
        w[0] = std::stod(weights.substr(0, comma), &used0);
        w[1] = std::stod(weights.substr(comma + 1), &used1);
        if (used0 != comma || used1 != weights.size() - comma - 1) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
        fail("fusion '{}': the weights are two numbers, BM25's and the vectors', e.g. {}:0.7,0.3", spec, method);
    }
    if (!std::isfinite(w[0]) || !std::isfinite(w[1]) || w[0] < 0 || w[1] < 0 || w[0] + w[1] <= 0)
        fail("fusion '{}': weights must be finite, at least 0 and not both 0", spec);
    f.bm25_weight = w[0];
    f.vector_weight = w[1];
    return f;
}

std::string fusion_name(const Fusion& fusion) {
    return fmt::format("{}:{:g},{:g}", fusion.method == FusionMethod::rrf ? "rrf" : "relative", fusion.bm25_weight,
                       fusion.vector_weight);
}

KnowledgeBase::KnowledgeBase(std::unique_ptr<KnowledgeBaseStore> store) : store_(std::move(store)) {}
KnowledgeBase::~KnowledgeBase() = default;
KnowledgeBase::KnowledgeBase(KnowledgeBase&&) noexcept = default;
KnowledgeBase& KnowledgeBase::operator=(KnowledgeBase&&) noexcept = default;

KnowledgeBase KnowledgeBase::open(const std::string& path, Access access) {
    return KnowledgeBase(std::make_unique<KnowledgeBaseStore>(path, access));
}

KnowledgeBaseInfo KnowledgeBase::info() const { return store_->info(); }
std::vector<SourceInfo> KnowledgeBase::sources() const { return store_->sources(); }

int KnowledgeBase::remove(std::span<const std::string> paths) {
    if (!store_->writable()) fail("{}: opened for reading; removing sources needs the writer lock", store_->path());
    int removed = 0;
    for (const std::string& given : paths) {
        const std::string root = std::filesystem::absolute(given).lexically_normal().string();
        int matched = 0;
        for (const SourceInfo& s : store_->sources())
            if (s.path == root || (s.path.size() > root.size() && s.path.compare(0, root.size(), root) == 0 &&
                                   s.path[root.size()] == '/')) {
                store_->remove_source(s.path);
                ++matched;
            }
        if (matched == 0)
            fail("{}: '{}' is not a source of this knowledge base (see `slm rag ls`)", store_->path(), given);
        removed += matched;
    }
    store_->refresh_ann_index();
    return removed;
}

std::vector<Passage> KnowledgeBase::retrieve(std::string_view query, int k, RetrievalMode mode, TextEmbedder* embedder,
                                             const Fusion& fusion) const {
    if (std::all_of(query.begin(), query.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
        fail("empty query: ask a question");
    if (k <= 0) fail("--k {}: at least one passage must be retrieved", k);
    // Fusion looks deeper than k into each list, so a chunk ranked fairly well by both can win.
    const size_t depth = mode == RetrievalMode::hybrid ? std::max<size_t>(size_t(k) * 4, 50) : size_t(k);
    std::vector<std::pair<int64_t, double>> lexical;
    std::vector<std::pair<int64_t, float>> semantic;
    if (mode != RetrievalMode::vector) lexical = store_->bm25(query, depth);
    if (mode != RetrievalMode::bm25) {
        const KnowledgeBaseInfo info = store_->info();
        if (!embedder)
            fail("{}: {} retrieval needs the embedding model '{}'", store_->path(), retrieval_mode_name(mode),
                 info.embed_model_id);
        if (embedder->id() != info.embed_model_id)
            fail(
                "{}: built with embedding model '{}', the query uses '{}'; query with the KB's model or re-index "
                "with --reembed",
                store_->path(), info.embed_model_id, embedder->id());
        const std::string q(query);
        auto vectors = embedder->embed(std::span<const std::string>(&q, 1));
        if (vectors.size() != 1 || vectors[0].size() != size_t(info.dim))
            fail("embedding model '{}' returned no {}-dim vector for the query", embedder->id(), info.dim);
        normalize(vectors[0]);
        semantic = store_->nearest(vectors[0], depth);
    }
    std::vector<int64_t> order;
    std::unordered_map<int64_t, double> fused;
    if (mode == RetrievalMode::bm25) {
        for (auto& [id, s] : lexical) order.push_back(id), fused[id] = s;
    } else if (mode == RetrievalMode::vector) {
        for (auto& [id, s] : semantic) order.push_back(id), fused[id] = s;
    } else {
        std::vector<RankedList> lists(2);
        lists[0].weight = fusion.bm25_weight;
        lists[1].weight = fusion.vector_weight;
        for (auto& [id, s] : lexical) lists[0].items.push_back({id, s});
        for (auto& [id, s] : semantic) lists[1].items.push_back({id, double(s)});
        const auto ranked =
            fusion.method == FusionMethod::rrf ? reciprocal_rank_fusion(lists) : relative_score_fusion(lists);
        for (const FusedRank& r : ranked) order.push_back(r.id), fused[r.id] = r.score;
    }
    if (order.size() > size_t(k)) order.resize(size_t(k));
    std::vector<Passage> out = store_->passages(order);
    for (Passage& p : out) {
        p.score = fused[p.chunk_id];
        for (size_t r = 0; r < lexical.size(); ++r)
            if (lexical[r].first == p.chunk_id) p.bm25_rank = int(r + 1), p.bm25_score = lexical[r].second;
        for (size_t r = 0; r < semantic.size(); ++r)
            if (semantic[r].first == p.chunk_id) p.vector_rank = int(r + 1), p.vector_score = semantic[r].second;
    }
    return out;
}

}  // namespace slm::rag
