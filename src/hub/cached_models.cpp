// What the cache holds, read without the network: resolve a name to its snapshot (or .gguf),
// list repositories with their revisions and sizes, remove a repository or one revision while
// keeping the blobs another snapshot still links to.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/hub.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "hub/cache_layout.h"
#include "hub/file_lock.h"
#include "hub/file_selection.h"

namespace fs = std::filesystem;

namespace slm {
namespace {

using hub::RepoCache;

// refs/ walked recursively ("refs/pr/1" is a ref too): name -> commit.
std::map<std::string, std::string> read_refs(const RepoCache& cache) {
    std::map<std::string, std::string> refs;
    const fs::path dir = cache.dir() + "/refs";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return refs;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const std::string name = it->path().lexically_relative(dir).string();
        if (auto commit = cache.commit_for(name)) refs[name] = *commit;
    }
    return refs;
}

std::vector<std::string> snapshot_commits(const RepoCache& cache) {
    std::vector<std::string> commits;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(cache.dir() + "/snapshots", ec))
        if (e.is_directory(ec)) commits.push_back(e.path().filename().string());
    std::sort(commits.begin(), commits.end());
    return commits;
}

// The blob file names a snapshot's links lead to.
std::set<std::string> blobs_used(const RepoCache& cache, const std::string& commit) {
    std::set<std::string> used;
    for (const auto& file : cache.snapshot_files(commit)) {
        std::error_code ec;
        const fs::path target = fs::weakly_canonical(cache.pointer_path(commit, file), ec);
        if (!ec) used.insert(target.filename().string());
    }
    return used;
}

uint64_t blob_size(const RepoCache& cache, const std::string& blob) {
    struct stat st {};
    return ::stat((cache.dir() + "/blobs/" + blob).c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

std::string cached_revisions(const RepoCache& cache) {
    std::string out;
    for (const auto& [name, commit] : read_refs(cache))
        out += (out.empty() ? "" : ", ") + name + " (" + commit.substr(0, 8) + ")";
    for (const auto& commit : snapshot_commits(cache)) out += (out.empty() ? "" : ", ") + commit.substr(0, 8);
    return out.empty() ? "none" : out;
}

}  // namespace

std::optional<std::string> resolve_cached(const ModelRef& ref, const std::string& cache_dir) {
    const RepoCache cache(cache_dir, ref.repo);
    const auto commit = cache.commit_for(ref.revision);
    if (!commit) return std::nullopt;
    const auto files = cache.snapshot_files(*commit);
    if (files.empty()) return std::nullopt;
    std::vector<std::string> gguf;
    try {
        gguf = hub::choose_gguf(files, ref.quant, ref.repo, nullptr);
    } catch (const Error&) {
        return std::nullopt;  // that quantization was never pulled
    }
    if (!ref.quant.empty() && gguf.empty()) return std::nullopt;
    const bool has_safetensors =
        std::any_of(files.begin(), files.end(), [](const std::string& f) { return f.ends_with(".safetensors"); });
    if (!gguf.empty() && (!ref.quant.empty() || !has_safetensors)) {
        if (!cache.has_file(*commit, gguf.front())) return std::nullopt;
        return cache.pointer_path(*commit, gguf.front());
    }
    return cache.snapshot_dir(*commit);
}

std::vector<CachedRepo> list_cached(const std::string& cache_dir) {
    std::vector<CachedRepo> repos;
    std::error_code ec;
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(cache_dir, ec))
        if (e.is_directory(ec) && e.path().filename().string().starts_with("models--")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& dir : dirs) {
        // huggingface_hub's scan: "models--org--name" -> "org/name".
        const std::string folder = dir.filename().string().substr(8);
        std::string repo;
        for (size_t i = 0; i < folder.size(); ++i) {
            const bool separator = folder.compare(i, 2, "--") == 0;
            repo += separator ? '/' : folder[i];
            i += separator;
        }
        const RepoCache cache(cache_dir, repo);
        CachedRepo r;
        r.repo = repo;
        r.path = dir.string();
        const auto refs = read_refs(cache);
        for (const auto& commit : snapshot_commits(cache)) {
            CachedRevision rev;
            rev.commit = commit;
            for (const auto& [name, c] : refs)
                if (c == commit) rev.refs.push_back(name);
            rev.files = cache.snapshot_files(commit);
            for (const auto& blob : blobs_used(cache, commit)) rev.size += blob_size(cache, blob);
            const auto has = [&](const char* ext) {
                return std::any_of(rev.files.begin(), rev.files.end(),
                                   [&](const std::string& f) { return f.ends_with(ext); });
            };
            const bool safetensors = has(".safetensors"), gguf = has(".gguf");
            rev.format = safetensors && gguf ? "safetensors+gguf" : safetensors ? "safetensors" : gguf ? "gguf" : "";
            r.revisions.push_back(std::move(rev));
        }
        for (const auto& e : fs::directory_iterator(dir / "blobs", ec)) {
            struct stat st {};
            if (::stat(e.path().c_str(), &st) != 0) continue;
            r.size_on_disk += uint64_t(st.st_size);
            r.last_used = std::max<int64_t>({r.last_used, int64_t(st.st_atime), int64_t(st.st_mtime)});
        }
        repos.push_back(std::move(r));
    }
    return repos;
}

uint64_t remove_cached(const ModelRef& ref, const std::string& cache_dir) {
    const RepoCache cache(cache_dir, ref.repo);
    if (!is_directory(cache.dir())) fail("{} is not in the cache ({})", ref.repo, cache_dir);
    const hub::FileLock lock(cache.repo_lock_path(), "waiting for another slm pull or rm of " + ref.repo);
    uint64_t freed = 0;
    std::error_code ec;
    if (!ref.revision_given) {
        for (const auto& e : fs::directory_iterator(cache.dir() + "/blobs", ec))
            freed += blob_size(cache, e.path().filename().string());
        fs::remove_all(cache.dir(), ec);
        if (ec) fail("{}: cannot remove: {}", cache.dir(), ec.message());
        return freed;
    }
    const auto commit = cache.commit_for(ref.revision);
    if (!commit)
        fail("revision '{}' of {} is not in the cache; cached: {}", ref.revision, ref.repo, cached_revisions(cache));
    fs::remove_all(cache.snapshot_dir(*commit), ec);
    if (ec) fail("{}: cannot remove: {}", cache.snapshot_dir(*commit), ec.message());
    for (const auto& [name, c] : read_refs(cache))
        if (c == *commit) fs::remove(cache.ref_path(name), ec);
    std::set<std::string> used;
    for (const auto& other : snapshot_commits(cache)) used.merge(blobs_used(cache, other));
    std::vector<std::string> unused;  // collected first: no removal while the directory is read
    for (const auto& e : fs::directory_iterator(cache.dir() + "/blobs", ec)) {
        const std::string blob = e.path().filename().string();
        if (!used.count(blob) && blob.find(".incomplete") == std::string::npos)
            unused.push_back(blob);  // a download in progress (.incomplete, .incomplete-ranges) may be another tool's
    }
    for (const auto& blob : unused) {
        freed += blob_size(cache, blob);
        fs::remove(cache.blob_path(blob), ec);
    }
    if (snapshot_commits(cache).empty()) fs::remove_all(cache.dir(), ec);
    return freed;
}

}  // namespace slm
