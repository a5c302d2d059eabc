// The cache layout: paths, refs and relative snapshot links, each write atomic (temp + rename)
// so a reader (slm or Python) never sees a half-written ref or a link to a missing blob.
#include "hub/cache_layout.h"

#include <slm/error.h>
#include <slm/file_io.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <random>

#include "hub/fs_errors.h"

namespace fs = std::filesystem;

namespace slm::hub {

std::string repo_folder_name(const std::string& repo) {
    std::string name = "models--" + repo;
    for (size_t i = 0; (i = name.find('/', i)) != std::string::npos;) name.replace(i, 1, "--");
    return name;
}

bool is_commit_hash(const std::string& s) {
    return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
               return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
           });
}

RepoCache::RepoCache(std::string cache_dir, std::string repo)
    : root_(std::move(cache_dir)), repo_(std::move(repo)), dir_(root_ + "/" + repo_folder_name(repo_)) {}

std::string RepoCache::locks_dir() const { return root_ + "/.locks/" + repo_folder_name(repo_); }

std::optional<std::string> RepoCache::commit_for(const std::string& revision) const {
    const std::string ref = ref_path(revision);
    if (file_exists(ref) && !is_directory(ref)) {
        std::string commit = read_text_file(ref);
        while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
        if (is_commit_hash(commit)) return commit;
    }
    if (is_commit_hash(revision) && is_directory(snapshot_dir(revision))) return revision;
    return std::nullopt;
}

void RepoCache::write_ref(const std::string& revision, const std::string& commit) const {
    const std::string path = ref_path(revision);
    make_dirs(path.substr(0, path.rfind('/')));
    write_file_atomic(path, commit);
}

void RepoCache::link(const std::string& commit, const std::string& file, const std::string& etag) const {
    const std::string pointer = pointer_path(commit, file);
    const std::string parent = pointer.substr(0, pointer.rfind('/'));
    make_dirs(parent);
    // As huggingface_hub: os.path.relpath(blob, dirname(pointer)), "../../blobs/x" at the top.
    const std::string target = fs::path(blob_path(etag)).lexically_relative(parent).string();
    std::random_device rd;
    const std::string temp = pointer + ".slm-link-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
    if (::symlink(target.c_str(), temp.c_str()) != 0) fail_io(temp, "cannot create the link");
    if (::rename(temp.c_str(), pointer.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        fail_errno(err, pointer, "cannot link into the snapshot");
    }
}

bool RepoCache::has_file(const std::string& commit, const std::string& file) const {
    std::error_code ec;
    return fs::is_regular_file(pointer_path(commit, file), ec);  // follows the link
}

std::vector<std::string> RepoCache::snapshot_files(const std::string& commit) const {
    std::vector<std::string> files;
    const fs::path dir = snapshot_dir(commit);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return files;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (it->is_symlink(ec) || it->is_regular_file(ec)) {
            const std::string rel = it->path().lexically_relative(dir).string();
            if (rel.find(".slm-link-") == std::string::npos) files.push_back(rel);
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace slm::hub
