// One repository's folder in the Hugging Face cache, laid out as huggingface_hub writes it:
//   models--{org}--{name}/blobs/{sha256 of an LFS file, else its etag}   (".incomplete" while downloading)
//   models--{org}--{name}/snapshots/{commit}/{path}  -> relative symlink to ../../blobs/{etag}
//   models--{org}--{name}/refs/{revision}            the commit sha, no newline
//   .locks/models--{org}--{name}/{etag}.lock         taken while a blob is written
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace slm::hub {

std::string repo_folder_name(const std::string& repo);  // "org/name" -> "models--org--name"
bool is_commit_hash(const std::string& s);              // 40 lower-case hex digits

class RepoCache {
public:
    RepoCache(std::string cache_dir, std::string repo);
    const std::string& repo() const { return repo_; }
    const std::string& dir() const { return dir_; }
    std::string blob_path(const std::string& etag) const { return dir_ + "/blobs/" + etag; }
    std::string snapshot_dir(const std::string& commit) const { return dir_ + "/snapshots/" + commit; }
    std::string pointer_path(const std::string& commit, const std::string& file) const {
        return snapshot_dir(commit) + "/" + file;
    }
    std::string ref_path(const std::string& revision) const { return dir_ + "/refs/" + revision; }
    std::string locks_dir() const;
    std::string blob_lock_path(const std::string& etag) const { return locks_dir() + "/" + etag + ".lock"; }
    std::string repo_lock_path() const { return locks_dir() + "/slm-repo.lock"; }

    // The commit a revision names here: refs/{revision}, or the revision itself when it is a
    // commit with a snapshot. nullopt when the cache does not know it.
    std::optional<std::string> commit_for(const std::string& revision) const;
    void write_ref(const std::string& revision, const std::string& commit) const;  // atomic
    // snapshots/{commit}/{file} -> the blob, as a relative symlink (replaced atomically).
    void link(const std::string& commit, const std::string& file, const std::string& etag) const;
    // Whether snapshots/{commit}/{file} exists and leads to a complete blob.
    bool has_file(const std::string& commit, const std::string& file) const;
    // Repository paths in a snapshot (symlinks and files, recursively), sorted.
    std::vector<std::string> snapshot_files(const std::string& commit) const;

private:
    std::string root_, repo_, dir_;
};

}  // namespace slm::hub
