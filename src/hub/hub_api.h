// The Hub's HTTP API as huggingface_hub uses it:
//   GET  {endpoint}/api/models/{repo}/revision/{rev}?blobs=true  -> commit sha, files, sizes, LFS sha256
//   HEAD {endpoint}/{repo}/resolve/{commit}/{path}               -> X-Repo-Commit, X-Linked-Etag or ETag,
//                                                                   X-Linked-Size, Location (the CDN)
// with the token as "Authorization: Bearer", retries with back-off, and the Hub's X-Error-Code
// (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) turned into messages that say what to do.
#pragma once

#include <slm/hub.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hub/http_client.h"

namespace slm::hub {

struct RepoFile {
    std::string path;  // "rfilename"
    uint64_t size = 0;
    std::string blob_id;     // the git object id
    std::string lfs_sha256;  // empty for a file kept in git
};

struct RepoInfo {
    std::string commit;  // "sha"
    std::vector<RepoFile> files;
};

struct FileMetadata {
    std::string commit;    // X-Repo-Commit
    std::string etag;      // X-Linked-Etag, else ETag, without quotes or W/
    std::string location;  // where to GET it: the redirect target, else the resolve URL
    std::optional<uint64_t> size;
};

std::string normalize_etag(std::string etag);
std::string url_quote(const std::string& s, bool keep_slash);

class HubApi {
public:
    explicit HubApi(const HubOptions& options);
    RepoInfo model_info(const std::string& repo, const std::string& revision);
    FileMetadata file_metadata(const std::string& repo, const std::string& commit, const std::string& path);
    std::string resolve_url(const std::string& repo, const std::string& revision, const std::string& path) const;
    // A request with the token and retries (cut, timeout, 5xx, 429); the caller checks status.
    HttpResponse send(HttpRequest request);
    // Throws slm::Error for a non-2xx/3xx response, naming repo, revision or file as it applies.
    void check(const HttpResponse& r, const std::string& repo, const std::string& revision,
               const std::string& file = "") const;
    // Sleeps the back-off before retry `attempt` (1, 2, ...).
    void back_off(int attempt) const;
    const HubOptions& options() const { return options_; }
    HttpClient& client() { return client_; }

private:
    HubOptions options_;
    HttpClient client_;
};

}  // namespace slm::hub
