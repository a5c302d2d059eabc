// KnowledgeBase: documents chunked, embedded and indexed in one SQLite file (with an hnswlib
// index beside it), searched by BM25, by vectors or by both fused; the public face of src/rag/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slm::rag {

// What a knowledge base needs from an embedding model. The CLI wraps slm::Embedder in it;
// tests use small deterministic ones. Vectors are L2-normalised by the knowledge base.
class TextEmbedder {
public:
    virtual ~TextEmbedder() = default;
    virtual std::string id() const = 0;  // recorded in the KB: a KB refuses vectors of another model
    virtual int dim() const = 0;
    virtual size_t count_tokens(std::string_view text) const = 0;  // chunks are sized by this
    virtual size_t max_tokens() const { return 0; }                // the longest text it reads whole; 0: no limit
    virtual std::vector<std::vector<float>> embed(std::span<const std::string> texts) = 0;
};

// An embedding model file as a TextEmbedder (slm::Embedder: a BERT-family encoder, or a decoder
// in embedding mode); tokens are counted without special tokens.
// `pooling`: "" for the model's own, else cls | mean | last (slm::EmbedderOptions::pooling).
std::unique_ptr<TextEmbedder> open_model_embedder(const std::string& path, int threads = 0,
                                                  const std::string& pooling = "");

class KnowledgeBase;

// The embedding model that embeds a KB's queries: the path the KB recorded (or `override_path`
// when not empty) and the pooling its recorded model id names ("" when the id names none: the
// model's own), so queries are embedded the way its chunks were. slm::Error naming the KB when it
// records no path or its recorded model is gone.
struct KbEmbedderChoice {
    std::string path, pooling;
};
KbEmbedderChoice kb_embedder_choice(const KnowledgeBase& kb, const std::string& override_path = "");
// That model opened, and checked to be the one the KB was built with (the same id: weights,
// pooling, normalisation); slm::Error naming the KB otherwise. What `slm rag query|chat|search`
// and `slm serve --rag` embed queries with.
std::unique_ptr<TextEmbedder> open_kb_embedder(const KnowledgeBase& kb, const std::string& override_path = "",
                                               int threads = 0);
// The same check for an embedder opened before (the server shares one among KBs).
void check_kb_embedder(const KnowledgeBase& kb, const TextEmbedder& embedder);

struct ChunkingOptions {
    int chunk_tokens = 256;
    int overlap_tokens = 32;
};

enum class RetrievalMode { bm25, vector, hybrid };
RetrievalMode parse_retrieval_mode(std::string_view name);  // "bm25", "vector", "hybrid"
std::string_view retrieval_mode_name(RetrievalMode mode);

// How hybrid retrieval merges the BM25 and vector candidate lists (docs/rag.md, "Retrieval
// quality", measures both): rrf scores sum weight / (60 + rank); relative scores sum weight times
// the score min-max normalised within its list. The default, relative with 0.95 / 0.05, is what
// the SQuAD measurement calibrated on questions disjoint from the reported ones, for each of the
// decoders available as embedding models: it keeps BM25's order unless the vector list strongly
// prefers another chunk, so a weak embedding model cannot drag hybrid below BM25 alone. With a
// strong encoder, weigh the vectors more (e.g. relative:0.5,0.5).
enum class FusionMethod { rrf, relative };
struct Fusion {
    FusionMethod method = FusionMethod::relative;
    double bm25_weight = 0.95, vector_weight = 0.05;
};
// "rrf" or "relative", optionally with ":BM25_WEIGHT,VECTOR_WEIGHT" ("relative:0.7,0.3",
// "rrf:1,0.2"); without weights rrf weighs both lists 1 (plain RRF) and relative takes the
// defaults above. Weights must be finite, >= 0 and not both 0; slm::Error otherwise.
Fusion parse_fusion(std::string_view spec);
std::string fusion_name(const Fusion& fusion);  // the spec that parse_fusion reads back

// One retrieved chunk. `page` is 0 for documents without pages; lines are 1-based, within the
// page for a PDF, within the file otherwise.
struct Passage {
    int64_t chunk_id = 0;
    std::string path;  // as indexed (absolute)
    int page = 0, line_begin = 0, line_end = 0;
    std::string text;
    double score = 0;                    // the mode's score: bm25, cosine similarity, or the fused one
    double bm25_score = 0;               // 0 when not among the BM25 candidates
    double vector_score = 0;             // cosine similarity; 0 when not among the vector candidates
    int bm25_rank = 0, vector_rank = 0;  // 1-based among the candidates; 0 when absent
    std::optional<double> rerank_score;  // the Reranker's score (include/slm/reranker.h) when reranked
};

struct SourceInfo {
    std::string path, hash;
    int64_t mtime = 0, size = 0;
    int chunks = 0, pages = 0;
};

struct IndexOptions {
    ChunkingOptions chunking;
    bool reembed = false;  // drop every vector and rebuild (another model or chunking)
    bool progress = true;  // a Progress bar on stderr
    int batch = 16;        // texts per embed call
};

struct IndexReport {
    int files_seen = 0, files_indexed = 0, files_unchanged = 0, files_removed = 0;
    int64_t chunks_embedded = 0;
    struct Rejected {
        std::string path, reason;
    };
    std::vector<Rejected> rejected;  // files that could not be read; the run went on without them
    double seconds = 0;
};

struct KnowledgeBaseInfo {
    std::string path, embed_model_id, embed_model_path;
    int dim = 0;
    ChunkingOptions chunking;
    int64_t sources = 0, chunks = 0;
    bool ann_index = false;  // an hnswlib index is in use (else exact search)
};

class KnowledgeBaseStore;  // src/rag/kb_store.h

class KnowledgeBase {
public:
    enum class Access { read, write };
    // `write` creates the file when missing and holds the writer lock until destruction (a second
    // writer gets "KB locked by another writer"); `read` requires an existing KB.
    static KnowledgeBase open(const std::string& path, Access access);
    ~KnowledgeBase();
    KnowledgeBase(KnowledgeBase&&) noexcept;
    KnowledgeBase& operator=(KnowledgeBase&&) noexcept;

    KnowledgeBaseInfo info() const;
    std::vector<SourceInfo> sources() const;

    // Indexes files and folders (recursively: .txt, .md, .markdown, .html, .htm, .pdf). Files
    // unchanged since the last run are not read again; files gone from an indexed folder are
    // dropped. Each file is committed on its own: a killed run leaves the previous KB usable and
    // a re-run resumes. `embed_model_path` is recorded so queries can reload the model.
    IndexReport index(std::span<const std::string> paths, TextEmbedder& embedder, const std::string& embed_model_path,
                      const IndexOptions& options = {});
    // Removes sources (files, or every source under a folder); returns how many.
    int remove(std::span<const std::string> paths);

    // The k best passages for `query`. `embedder` is needed for vector and hybrid modes and must
    // be the KB's model; `fusion` applies to hybrid mode. An empty query is an slm::Error.
    std::vector<Passage> retrieve(std::string_view query, int k, RetrievalMode mode, TextEmbedder* embedder,
                                  const Fusion& fusion = {}) const;

private:
    explicit KnowledgeBase(std::unique_ptr<KnowledgeBaseStore> store);
    std::unique_ptr<KnowledgeBaseStore> store_;
};

}  // namespace slm::rag
