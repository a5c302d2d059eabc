// KnowledgeBase::index: walk the given files and folders, skip what is unchanged (size and mtime,
// then content hash), chunk and embed the rest file by file, each file committed on its own
// (resumable), drop sources gone from disk, then bring the hnswlib index up to date.
#include <fmt/format.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/progress.h>
#include <slm/rag.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "hub/digest.h"
#include "rag/chunker.h"
#include "rag/document.h"
#include "rag/kb_store.h"
#include "rag/vector_index.h"

namespace slm::rag {
namespace {

namespace fs = std::filesystem;

std::string absolute_path(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

bool is_hidden(const fs::path& p) {
    const std::string name = p.filename().string();
    return name.size() > 1 && name[0] == '.';
}

// Every document under `root` (a folder, recursively, hidden entries skipped), sorted.
std::vector<std::string> documents_under(const std::string& root) {
    std::vector<std::string> out;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied);
         it != fs::recursive_directory_iterator(); ++it) {
        if (is_hidden(it->path())) {
            if (it->is_directory()) it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file() && is_document_file(it->path().string()))
            out.push_back(it->path().lexically_normal().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool under(const std::string& path, const std::string& root) {
    return path == root ||
           (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/');
}

struct PlannedFile {
    StoredSource source;
    Document doc;
    std::vector<Chunk> chunks;
};

}  // namespace

IndexReport KnowledgeBase::index(std::span<const std::string> paths, TextEmbedder& embedder,
                                 const std::string& embed_model_path, const IndexOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    KnowledgeBaseStore& store = *store_;
    if (!store.writable()) fail("{}: opened for reading; indexing needs the writer lock", store.path());
    if (paths.empty()) fail("{}: no documents given to index", store.path());
    const ChunkingOptions& chunking = options.chunking;
    chunk_document(
        Document{}, [](std::string_view) { return size_t(0); }, chunking);  // validates the options
    if (embedder.max_tokens() > 0 && size_t(chunking.chunk_tokens) > embedder.max_tokens())
        fail(
            "--chunk-tokens {}: the embedding model '{}' reads at most {} tokens of a text; use --chunk-tokens {} or "
            "less",
            chunking.chunk_tokens, embedder.id(), embedder.max_tokens(), embedder.max_tokens());

    // The KB's vectors and chunks must all come from one model and one chunking.
    const KnowledgeBaseInfo before = store.info();
    const bool fresh = before.embed_model_id.empty();
    if (!fresh && !options.reembed) {
        if (before.embed_model_id != embedder.id() || before.dim != embedder.dim())
            fail(
                "{}: built with embedding model '{}' ({} dims), not '{}' ({} dims); pass --reembed to rebuild it "
                "with the new model",
                store.path(), before.embed_model_id, before.dim, embedder.id(), embedder.dim());
        if (before.chunking.chunk_tokens != chunking.chunk_tokens ||
            before.chunking.overlap_tokens != chunking.overlap_tokens)
            fail(
                "{}: chunked with --chunk-tokens {} --overlap {}, this run asks {} and {}; pass --reembed to rechunk "
                "every document",
                store.path(), before.chunking.chunk_tokens, before.chunking.overlap_tokens, chunking.chunk_tokens,
                chunking.overlap_tokens);
    }
    {
        Transaction tx(store.db());
        if (options.reembed) store.remove_everything();
        store.set_meta("embed_model", embedder.id());
        store.set_meta("embed_model_path", embed_model_path.empty() ? "" : absolute_path(embed_model_path));
        store.set_meta("dim", std::to_string(embedder.dim()));
        store.set_meta("chunk_tokens", std::to_string(chunking.chunk_tokens));
        store.set_meta("overlap_tokens", std::to_string(chunking.overlap_tokens));
        tx.commit();
    }

    IndexReport report;
    // Which files exist now, under which roots.
    std::vector<std::string> files, folder_roots, file_roots;
    for (const std::string& given : paths) {
        const std::string root = absolute_path(given);
        if (is_directory(root)) {
            folder_roots.push_back(root);
            for (auto& f : documents_under(root)) files.push_back(std::move(f));
        } else if (file_exists(root)) {
            file_roots.push_back(root);
            files.push_back(root);
        } else {
            file_roots.push_back(root);  // a file or folder that is gone: its sources are dropped below
            bool known = false;
            for (const SourceInfo& s : store.sources()) known = known || under(s.path, root);
            if (!known) report.rejected.push_back({given, "no such file or folder"});
        }
    }
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    report.files_seen = int(files.size());

    // Sources under the given roots that are no longer there.
    const std::set<std::string> present(files.begin(), files.end());
    for (const SourceInfo& s : store.sources()) {
        const bool covered =
            std::any_of(folder_roots.begin(), folder_roots.end(), [&](auto& r) { return under(s.path, r); }) ||
            std::any_of(file_roots.begin(), file_roots.end(), [&](auto& r) { return under(s.path, r); });
        if (covered && !present.count(s.path) && !file_exists(s.path)) {
            store.remove_source(s.path);
            ++report.files_removed;
        }
    }

    // Plan: read and chunk what changed; the embedding below is the slow part, measured in chunks.
    std::vector<PlannedFile> planned;
    size_t total_chunks = 0;
    auto counter = [&](std::string_view text) { return embedder.count_tokens(text); };
    for (const std::string& path : files) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            report.rejected.push_back({path, "cannot stat"});
            continue;
        }
        const int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, size = int64_t(st.st_size);
        const auto stored = store.find_source(path);
        if (stored && stored->size == size && stored->mtime == mtime) {
            ++report.files_unchanged;
            continue;
        }
        try {
            const std::string hash = hub::sha256_hex(read_text_file(path));
            if (stored && stored->hash == hash) {
                store.touch_source(path, mtime);
                ++report.files_unchanged;
                continue;
            }
            // Built member by member: GCC 12 destroys a half-built aggregate twice when an initializer throws.
            PlannedFile file;
            file.doc = read_document(path);
            file.chunks = chunk_document(file.doc, counter, chunking);
            file.source = {0, path, hash, mtime, size};
            total_chunks += file.chunks.size();
            planned.push_back(std::move(file));
        } catch (const Error& e) {
            report.rejected.push_back({path, e.what()});
        }
    }

    std::unique_ptr<Progress> progress;
    if (options.progress && total_chunks > 0)
        progress = std::make_unique<Progress>("embedding", total_chunks, "chunks");
    const size_t dim = size_t(embedder.dim());
    for (size_t f = 0; f < planned.size(); ++f) {
        PlannedFile& file = planned[f];
        if (progress) progress->set_status(fmt::format("file {}/{}", f + 1, planned.size()));
        std::vector<float> vectors;
        vectors.reserve(file.chunks.size() * dim);
        const size_t batch = size_t(std::max(1, options.batch));
        for (size_t b = 0; b < file.chunks.size(); b += batch) {
            std::vector<std::string> texts;
            for (size_t i = b; i < std::min(file.chunks.size(), b + batch); ++i) texts.push_back(file.chunks[i].text);
            auto embedded = embedder.embed(texts);
            if (embedded.size() != texts.size())
                fail("embedding model '{}' returned {} vectors for {} texts", embedder.id(), embedded.size(),
                     texts.size());
            for (auto& v : embedded) {
                if (v.size() != dim)
                    fail("embedding model '{}' returned a {}-dim vector, expected {}", embedder.id(), v.size(), dim);
                normalize(v);
                vectors.insert(vectors.end(), v.begin(), v.end());
            }
            if (progress) progress->advance(texts.size());
        }
        store.replace_source(file.source, int(file.doc.pages.size()), file.chunks, vectors);
        ++report.files_indexed;
        report.chunks_embedded += int64_t(file.chunks.size());
    }
    if (progress) progress->finish();
    store.refresh_ann_index();
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
}

}  // namespace slm::rag
