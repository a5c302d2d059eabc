// KnowledgeBaseStore: the knowledge base's SQLite file. Tables: meta (embedding model, dim,
// chunking, generation counters), sources (path, hash, mtime, size), chunks (page, lines, text,
// f32 vector) and chunk_text, an FTS5 index kept in step by triggers for BM25. Each source is
// replaced in one transaction, so any committed state is a consistent knowledge base.
#pragma once

#include <slm/rag.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rag/sqlite_db.h"
#include "rag/writer_lock.h"

namespace slm::rag {

struct Chunk;
class HnswIndex;

struct StoredSource {
    int64_t id = 0;
    std::string path, hash;
    int64_t mtime = 0, size = 0;
};

struct ChunkVectors {
    std::vector<int64_t> ids;
    std::vector<float> values;  // [ids.size(), dim]
};

class KnowledgeBaseStore {
public:
    KnowledgeBaseStore(const std::string& path, KnowledgeBase::Access access);
    ~KnowledgeBaseStore();

    const std::string& path() const { return path_; }
    std::string ann_index_path() const { return path_ + ".hnsw"; }
    bool writable() const { return lock_ != nullptr; }
    SqliteDb& db() { return *db_; }

    std::optional<std::string> meta(const std::string& key) const;
    void set_meta(const std::string& key, const std::string& value);  // inside the caller's transaction
    KnowledgeBaseInfo info() const;

    std::optional<StoredSource> find_source(const std::string& path) const;
    std::vector<SourceInfo> sources() const;
    // Replaces (or adds) a source and all its chunks with their unit vectors ([chunks, dim]).
    void replace_source(const StoredSource& source, int pages, const std::vector<Chunk>& chunks,
                        std::span<const float> vectors);
    void touch_source(const std::string& path, int64_t mtime);  // same content, newer mtime
    void remove_source(const std::string& path);
    void remove_everything();  // every source and chunk; meta stays for the caller to rewrite

    // BM25 through FTS5 over the words of `query` (any of them may match); best first.
    std::vector<std::pair<int64_t, double>> bm25(std::string_view query, size_t n) const;
    std::vector<std::pair<int64_t, float>> nearest(std::span<const float> unit_query, size_t n) const;
    std::vector<Passage> passages(std::span<const int64_t> ids) const;  // in the order asked

    // Rebuilds the hnswlib file when the KB has grown past kAnnThreshold and the file is not of
    // the current generation of vectors; removes a stale one for a KB that no longer needs it.
    void refresh_ann_index();

private:
    ChunkVectors all_vectors() const;
    void bump_generation();
    std::string path_;
    std::unique_ptr<WriterLock> lock_;  // before db_: the lock is taken before the file is touched
    std::unique_ptr<SqliteDb> db_;
    mutable std::unique_ptr<HnswIndex> ann_;
    mutable std::string ann_generation_;
    mutable std::unique_ptr<ChunkVectors> exact_cache_;
    mutable std::string exact_generation_;
};

}  // namespace slm::rag
