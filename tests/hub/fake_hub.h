// A Hugging Face Hub of our own on 127.0.0.1 (cpp-httplib, an ephemeral port), for the hub
// tests and `slm-fake-hub`. It answers as the real Hub does: /api/models/{repo}/revision/{rev}
// (sha, siblings with blobId, size and lfs.sha256 under ?blobs=true), /{repo}/resolve/{rev}/{path}
// (X-Repo-Commit, ETag, X-Linked-Etag / X-Linked-Size and a 302 to /cdn/{sha256} for LFS files),
// X-Error-Code on errors, Range requests; and it can misbehave on purpose (a cut, a stall, bad bytes).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace slm::test {

class FakeHub {
public:
    explicit FakeHub(int port = 0);  // 0: an ephemeral port
    ~FakeHub();
    FakeHub(const FakeHub&) = delete;
    FakeHub& operator=(const FakeHub&) = delete;

    std::string endpoint() const;  // "http://127.0.0.1:PORT"

    // Adds a file at repo@revision. LFS by default for weights (.safetensors, .gguf, .bin, .pt)
    // and for anything over 1 MiB, as the Hub's .gitattributes make it.
    void add_file(const std::string& repo, const std::string& revision, const std::string& path, std::string content,
                  std::optional<bool> lfs = std::nullopt);
    // Every DIR/org/name/ (symlinks followed) as repository org/name at revision main.
    void add_dir(const std::string& dir);
    // Resolving files of `repo` then needs "Authorization: Bearer <token>" (else 401, GatedRepo).
    void set_gated(const std::string& repo, const std::string& token);
    std::string commit(const std::string& repo, const std::string& revision) const;
    std::string sha256(const std::string& repo, const std::string& revision, const std::string& path) const;

    // Faults, keyed by the file's blob: the next GET closes the connection after `bytes` bytes of
    // the file; every GET waits `ms` before the body; the bytes served differ from the listed sha256.
    void cut_once(const std::string& repo, const std::string& path, size_t bytes);
    void stall(const std::string& repo, const std::string& path, int ms);
    void corrupt(const std::string& repo, const std::string& path);
    // Every response body is sent at most this fast, per connection, as a CDN may cap it (0: no cap).
    void throttle(uint64_t bytes_per_second) { throttle_ = bytes_per_second; }

    // What was asked: GETs with a body served for a file, and the Range header of each ("" when none).
    int gets(const std::string& repo, const std::string& path) const;
    std::vector<std::string> ranges(const std::string& repo, const std::string& path) const;
    int cdn_gets() const { return cdn_gets_; }

private:
    struct File {
        std::shared_ptr<const std::string> content;
        std::string blob_id, sha256;  // sha256 empty for a file kept in git
    };
    struct Repo {
        std::map<std::string, std::map<std::string, File>> revisions;  // revision -> path -> file
        std::string token;                                             // gated: the one accepted
    };
    struct Fault {
        size_t cut_at = 0;  // 0: none
        int stall_ms = 0;
        bool corrupt = false;
    };

    const File* find_file(const std::string& repo, const std::string& path) const;  // any revision
    std::string key(const std::string& repo, const std::string& path) const;
    std::string commit_locked(const std::string& repo, const std::string& revision) const;
    const std::map<std::string, File>* revision_locked(const Repo& r, const std::string& repo, const std::string& rev,
                                                       std::string* commit) const;
    void handle_info(const httplib::Request& req, httplib::Response& res);
    void handle_resolve(const httplib::Request& req, httplib::Response& res);
    void handle_cdn(const httplib::Request& req, httplib::Response& res);
    void serve(const httplib::Request& req, httplib::Response& res, const File& file);

    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> cdn_gets_{0};
    mutable std::mutex mutex_;
    std::map<std::string, Repo> repos_;
    std::atomic<uint64_t> throttle_{0};
    std::map<std::string, Fault> faults_;                     // by blob key
    std::map<std::string, int> gets_;                         // by blob key
    std::map<std::string, std::vector<std::string>> ranges_;  // by blob key
};

}  // namespace slm::test
