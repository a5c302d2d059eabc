// slm::pull: ask the Hub for the revision's commit and files, choose the files, then per file
// (a few at once) HEAD for its etag, download the blob unless cached, link it into the
// snapshot; write refs/{revision} last. Offline, or with the Hub out of reach, the cache answers.
#include <fmt/format.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/hub.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "hub/blob_download.h"
#include "hub/cache_layout.h"
#include "hub/download_progress.h"
#include "hub/file_lock.h"
#include "hub/file_selection.h"
#include "hub/fs_errors.h"
#include "hub/hub_api.h"

namespace slm {
namespace {

using namespace hub;

PullResult from_cache(const ModelRef& ref, const std::string& path, const std::string& cache_dir) {
    const RepoCache cache(cache_dir, ref.repo);
    PullResult r;
    r.path = path;
    r.commit = *cache.commit_for(ref.revision);
    r.snapshot_dir = cache.snapshot_dir(r.commit);
    r.files = cache.snapshot_files(r.commit);
    return r;
}

bool is_sha256(const std::string& s) {
    return s.size() == 64 &&
           std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// Downloads and links one file; returns the bytes fetched.
uint64_t fetch_file(HubApi& api, const RepoCache& cache, const std::string& commit, const RepoFile& file,
                    const PullOptions& options, DownloadProgress& progress) {
    const FileMetadata meta = api.file_metadata(cache.repo(), commit, file.path);
    // An LFS file's blob is named by its sha256 (X-Linked-Etag); the API's sha256 is checked.
    std::string sha256 = file.lfs_sha256;
    if (sha256.empty() && is_sha256(meta.etag)) sha256 = meta.etag;
    const std::string blob = cache.blob_path(meta.etag);
    const uint64_t size = file.size ? file.size : meta.size.value_or(0);
    progress.start(file.path, size, sha256.empty() ? meta.etag : "sha256:" + sha256);
    uint64_t fetched = 0;
    if (!file_exists(blob)) {
        const FileLock lock(cache.blob_lock_path(meta.etag));
        if (!file_exists(blob)) {  // not written by another process while we waited
            BlobDownload job;
            job.file = file.path;
            job.url = meta.location;
            job.blob_path = blob;
            job.size = file.size ? std::optional<uint64_t>(file.size) : meta.size;
            job.sha256 = sha256;
            job.connections = options.connections;
            job.ranged_min = options.ranged_min_bytes;
            fetched = download_blob(api, cache.repo(), commit, job, [&](uint64_t n) { progress.add(file.path, n); });
        } else {
            progress.add(file.path, size);  // another process wrote it meanwhile
        }
    } else {
        progress.add(file.path, size);  // a blob another revision shares
    }
    cache.link(commit, file.path, meta.etag);
    progress.done(file.path);
    return fetched;
}

}  // namespace

PullResult pull(const ModelRef& ref, const PullOptions& options, const HubOptions& hub) {
    if (hub.offline) {
        if (const auto path = resolve_cached(ref, hub.cache_dir)) return from_cache(ref, *path, hub.cache_dir);
        const RepoCache cache(hub.cache_dir, ref.repo);
        fail(
            "{} is not in the cache ({}{}) and HF_HUB_OFFLINE is set, so it cannot be downloaded: unset "
            "HF_HUB_OFFLINE, "
            "or pull it where the Hub can be reached",
            ref.str(), hub.cache_dir, is_directory(cache.dir()) ? ", which has other revisions or files of it" : "");
    }
    HubApi api(hub);
    RepoInfo info;
    try {
        info = api.model_info(ref.repo, ref.revision);
    } catch (const TransportError& e) {
        // As huggingface_hub: with the Hub out of reach, a cached copy still serves.
        if (const auto path = resolve_cached(ref, hub.cache_dir)) {
            fmt::print(stderr, "slm: cannot reach {} ({}); using the cached {}\n", hub.endpoint, e.what(), ref.str());
            return from_cache(ref, *path, hub.cache_dir);
        }
        fail("cannot reach the Hub at {} ({}), and {} is not in the cache", hub.endpoint, e.what(), ref.str());
    }
    std::vector<std::string> paths;
    for (const auto& f : info.files) paths.push_back(f.path);
    const FileSelection sel = select_files(paths, ref.quant, options.include, options.exclude, ref.repo);
    if (!sel.note.empty() && options.progress) fmt::print(stderr, "{}\n", sel.note);

    const RepoCache cache(hub.cache_dir, ref.repo);
    make_dirs(cache.dir() + "/blobs");
    const FileLock repo_lock(cache.repo_lock_path(),
                             "waiting for another slm pull or rm of " + ref.repo + " to finish");
    std::vector<const RepoFile*> todo;  // files already linked in this snapshot cost nothing
    uint64_t total = 0;
    for (const auto& f : info.files)
        if (std::binary_search(sel.files.begin(), sel.files.end(), f.path) && !cache.has_file(info.commit, f.path)) {
            todo.push_back(&f);
            total += f.size;
        }

    PullResult result;
    DownloadProgress progress(options.progress && !todo.empty(), "pull " + ref.repo, total, options.on_file_progress);
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> fetched{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto work = [&] {
        std::optional<HubApi> own;  // one HTTP connection per worker
        HubApi* worker_api = &api;
        if (options.parallel > 1) worker_api = &own.emplace(hub);
        for (size_t i; (i = next++) < todo.size();) {
            try {
                fetched += fetch_file(*worker_api, cache, info.commit, *todo[i], options, progress);
            } catch (...) {
                const std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
                next = todo.size();  // start nothing new
            }
        }
    };
    const size_t workers = std::min<size_t>(std::max(1, options.parallel), todo.size());
    if (workers <= 1) {
        work();
    } else {
        std::vector<std::thread> threads;
        for (size_t w = 0; w < workers; ++w) threads.emplace_back(work);
        for (auto& t : threads) t.join();
    }
    if (error) std::rethrow_exception(error);
    progress.finish();
    if (ref.revision != info.commit) cache.write_ref(ref.revision, info.commit);

    result.commit = info.commit;
    result.snapshot_dir = cache.snapshot_dir(info.commit);
    result.files = sel.files;
    result.downloaded_bytes = fetched;
    result.note = sel.note;
    result.path = sel.gguf.empty() ? result.snapshot_dir : cache.pointer_path(info.commit, sel.gguf.front());
    return result;
}

}  // namespace slm
