// KnowledgeBaseStore: schema, per-source transactions, FTS5 BM25 and the choice between exact
// and hnswlib search. The generation counter in meta changes with every committed change of
// vectors; the hnswlib file is trusted only when it was written for the current generation.
#include "rag/kb_store.h"

#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/thread_pool.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <set>
#include <unordered_map>

#include "rag/chunker.h"
#include "rag/vector_index.h"

namespace slm::rag {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources(
  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, hash TEXT NOT NULL,
  mtime INTEGER NOT NULL, size INTEGER NOT NULL, pages INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(
  id INTEGER PRIMARY KEY, source_id INTEGER NOT NULL, ordinal INTEGER NOT NULL, page INTEGER NOT NULL,
  line_begin INTEGER NOT NULL, line_end INTEGER NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks(source_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_text USING fts5(text, content='chunks', content_rowid='id',
  tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS chunks_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunk_text(rowid, text) VALUES (new.id, new.text); END;
CREATE TRIGGER IF NOT EXISTS chunks_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunk_text(chunk_text, rowid, text) VALUES ('delete', old.id, old.text); END;
INSERT OR IGNORE INTO meta(key, value) VALUES ('format', '1'), ('generation', '0');
)sql";

// FTS5 query syntax would treat the user's punctuation as operators; keep only words, each
// quoted, any of which may match (BM25 ranks chunks with more and rarer words first).
std::string fts_query(std::string_view text) {
    std::set<std::string> seen;
    std::string query, word;
    auto flush = [&] {
        if (!word.empty() && seen.insert(word).second) query += (query.empty() ? "\"" : " OR \"") + word + "\"";
        word.clear();
    };
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || u >= 0x80)
            word += char(std::tolower(u));
        else
            flush();
    }
    flush();
    return query;
}

}  // namespace

KnowledgeBaseStore::KnowledgeBaseStore(const std::string& path, KnowledgeBase::Access access) : path_(path) {
    const bool exists = file_exists(path) && file_size(path) > 0;
    if (access == KnowledgeBase::Access::read && !exists)
        fail("{}: no such knowledge base (make one with `slm rag index {} DOCS… --embed MODEL`)", path, path);
    if (access == KnowledgeBase::Access::write) lock_ = std::make_unique<WriterLock>(path);
    auto not_a_kb = [&] { fail("{}: not a knowledge base made by `slm rag index`", path); };
    try {
        db_ = std::make_unique<SqliteDb>(
            path, access == KnowledgeBase::Access::read ? SqliteDb::Mode::read : SqliteDb::Mode::write);
    } catch (const Error&) {
        if (exists) not_a_kb();  // SQLite says "file is not a database"; say what it should have been
        throw;
    }
    if (exists) {  // never add our tables to someone else's database
        Statement s(*db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
        if (!s.step() || s.column_int(0) != 1) not_a_kb();
    }
    if (access == KnowledgeBase::Access::write) db_->exec(kSchema);
    const std::string format = meta("format").value_or("");
    if (format != "1") fail("{}: knowledge base format '{}' is not supported (expected 1)", path, format);
}

KnowledgeBaseStore::~KnowledgeBaseStore() = default;

std::optional<std::string> KnowledgeBaseStore::meta(const std::string& key) const {
    Statement s(*db_, "SELECT value FROM meta WHERE key = ?1");
    s.bind(1, key);
    if (!s.step()) return std::nullopt;
    return s.column_text(0);
}

void KnowledgeBaseStore::set_meta(const std::string& key, const std::string& value) {
    Statement s(*db_,
                "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    s.bind(1, key).bind(2, value).run();
}

void KnowledgeBaseStore::bump_generation() {
    db_->exec("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'");
}

KnowledgeBaseInfo KnowledgeBaseStore::info() const {
    KnowledgeBaseInfo info;
    info.path = path_;
    info.embed_model_id = meta("embed_model").value_or("");
    info.embed_model_path = meta("embed_model_path").value_or("");
    info.dim = std::stoi(meta("dim").value_or("0"));
    info.chunking.chunk_tokens = std::stoi(meta("chunk_tokens").value_or("0"));
    info.chunking.overlap_tokens = std::stoi(meta("overlap_tokens").value_or("0"));
    Statement sources(*db_, "SELECT count(*) FROM sources");
    sources.step();
    info.sources = sources.column_int(0);
    Statement chunks(*db_, "SELECT count(*) FROM chunks");
    chunks.step();
    info.chunks = chunks.column_int(0);
    info.ann_index = size_t(info.chunks) >= kAnnThreshold && meta("ann_generation") == meta("generation") &&
                     file_exists(ann_index_path());
    return info;
}

std::optional<StoredSource> KnowledgeBaseStore::find_source(const std::string& path) const {
    Statement s(*db_, "SELECT id, path, hash, mtime, size FROM sources WHERE path = ?1");
    s.bind(1, path);
    if (!s.step()) return std::nullopt;
    return StoredSource{s.column_int(0), s.column_text(1), s.column_text(2), s.column_int(3), s.column_int(4)};
}

std::vector<SourceInfo> KnowledgeBaseStore::sources() const {
    Statement s(
        *db_,
        "SELECT s.path, s.hash, s.mtime, s.size, s.pages, (SELECT count(*) FROM chunks c WHERE c.source_id = s.id) "
        "FROM sources s ORDER BY s.path");
    std::vector<SourceInfo> out;
    while (s.step())
        out.push_back({s.column_text(0), s.column_text(1), s.column_int(2), s.column_int(3), int(s.column_int(5)),
                       int(s.column_int(4))});
    return out;
}

void KnowledgeBaseStore::replace_source(const StoredSource& source, int pages, const std::vector<Chunk>& chunks,
                                        std::span<const float> vectors) {
    const size_t dim = chunks.empty() ? 0 : vectors.size() / chunks.size();
    Transaction tx(*db_);
    Statement drop(*db_, "DELETE FROM chunks WHERE source_id = (SELECT id FROM sources WHERE path = ?1)");
    drop.bind(1, source.path).run();
    Statement upsert(*db_,
                     "INSERT INTO sources(path, hash, mtime, size, pages) VALUES (?1, ?2, ?3, ?4, ?5) "
                     "ON CONFLICT(path) DO UPDATE SET hash = excluded.hash, mtime = excluded.mtime, "
                     "size = excluded.size, pages = excluded.pages");
    upsert.bind(1, source.path)
        .bind(2, source.hash)
        .bind(3, source.mtime)
        .bind(4, source.size)
        .bind(5, int64_t(pages))
        .run();
    const int64_t source_id = find_source(source.path)->id;
    Statement insert(*db_,
                     "INSERT INTO chunks(source_id, ordinal, page, line_begin, line_end, text, vector) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    for (size_t i = 0; i < chunks.size(); ++i) {
        const Chunk& c = chunks[i];
        insert.bind(1, source_id).bind(2, int64_t(i)).bind(3, int64_t(c.page)).bind(4, int64_t(c.line_begin));
        insert.bind(5, int64_t(c.line_end)).bind(6, c.text).bind_blob(7, vectors.subspan(i * dim, dim)).run();
    }
    bump_generation();
    tx.commit();
}

void KnowledgeBaseStore::touch_source(const std::string& path, int64_t mtime) {
    Statement s(*db_, "UPDATE sources SET mtime = ?2 WHERE path = ?1");
    s.bind(1, path).bind(2, mtime).run();
}

void KnowledgeBaseStore::remove_source(const std::string& path) {
    Transaction tx(*db_);
    Statement drop(*db_, "DELETE FROM chunks WHERE source_id = (SELECT id FROM sources WHERE path = ?1)");
    drop.bind(1, path).run();
    Statement source(*db_, "DELETE FROM sources WHERE path = ?1");
    source.bind(1, path).run();
    bump_generation();
    tx.commit();
}

void KnowledgeBaseStore::remove_everything() {
    db_->exec("DELETE FROM chunks; DELETE FROM sources;");
    bump_generation();
}

std::vector<std::pair<int64_t, double>> KnowledgeBaseStore::bm25(std::string_view query, size_t n) const {
    const std::string match = fts_query(query);
    if (match.empty()) return {};
    Statement s(*db_,
                "SELECT rowid, bm25(chunk_text) FROM chunk_text WHERE chunk_text MATCH ?1 "
                "ORDER BY bm25(chunk_text) LIMIT ?2");
    s.bind(1, match).bind(2, int64_t(n));
    std::vector<std::pair<int64_t, double>> out;
    while (s.step()) out.push_back({s.column_int(0), -s.column_double(1)});  // FTS5's bm25 is negated
    return out;
}

ChunkVectors KnowledgeBaseStore::all_vectors() const {
    ChunkVectors out;
    Statement s(*db_, "SELECT id, vector FROM chunks ORDER BY id");
    while (s.step()) {
        out.ids.push_back(s.column_int(0));
        const auto v = s.column_floats(1);
        out.values.insert(out.values.end(), v.begin(), v.end());
    }
    return out;
}

std::vector<std::pair<int64_t, float>> KnowledgeBaseStore::nearest(std::span<const float> unit_query, size_t n) const {
    const std::string generation = meta("generation").value_or("0");
    const int dim = std::stoi(meta("dim").value_or("0"));
    if (dim == 0) return {};
    std::vector<Neighbor> found;
    if (meta("ann_generation") == generation && file_exists(ann_index_path())) {
        if (!ann_ || ann_generation_ != generation) {
            ann_ = HnswIndex::load(ann_index_path(), dim);
            ann_generation_ = generation;
        }
        found = ann_->search(unit_query, n);
    } else {
        if (!exact_cache_ || exact_generation_ != generation) {
            exact_cache_ = std::make_unique<ChunkVectors>(all_vectors());
            exact_generation_ = generation;
        }
        found = exact_search(exact_cache_->values, exact_cache_->ids, dim, unit_query, n);
    }
    std::vector<std::pair<int64_t, float>> out;
    for (const Neighbor& nb : found) out.push_back({nb.id, nb.similarity});
    return out;
}

std::vector<Passage> KnowledgeBaseStore::passages(std::span<const int64_t> ids) const {
    Statement s(*db_,
                "SELECT c.id, s.path, c.page, c.line_begin, c.line_end, c.text FROM chunks c "
                "JOIN sources s ON s.id = c.source_id WHERE c.id = ?1");
    std::vector<Passage> out;
    for (int64_t id : ids) {
        s.bind(1, id);
        if (s.step()) {
            Passage p;
            p.chunk_id = s.column_int(0);
            p.path = s.column_text(1);
            p.page = int(s.column_int(2));
            p.line_begin = int(s.column_int(3));
            p.line_end = int(s.column_int(4));
            p.text = s.column_text(5);
            out.push_back(std::move(p));
        }
        s.reset();
    }
    return out;
}

void KnowledgeBaseStore::refresh_ann_index() {
    const std::string generation = meta("generation").value_or("0");
    const int dim = std::stoi(meta("dim").value_or("0"));
    Statement count(*db_, "SELECT count(*) FROM chunks");
    count.step();
    const size_t n = size_t(count.column_int(0));
    if (n < kAnnThreshold || dim == 0) {
        std::remove(ann_index_path().c_str());  // exact search needs no file; a stale one would mislead
        return;
    }
    if (meta("ann_generation") == generation && file_exists(ann_index_path())) return;
    const ChunkVectors vectors = all_vectors();
    HnswIndex index(dim, n);
    ThreadPool pool;
    index.add(vectors.ids, vectors.values, &pool);
    index.save(ann_index_path());
    // Written after the file is in place: a crash in between leaves a generation mismatch, so
    // readers fall back to exact search and the next writer rebuilds.
    set_meta("ann_generation", generation);
}

}  // namespace slm::rag
