// download_blob: the attempt loop (resume from the .incomplete's length, back off after a cut
// or a stall), the streaming sha256, and the checks before the rename.
#include "hub/blob_download.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <slm/error.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "hub/digest.h"
#include "hub/fs_errors.h"

namespace slm::hub {
namespace {

class IncompleteFile {
public:
    explicit IncompleteFile(std::string path) : path_(std::move(path)) {
        fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) fail_io(path_, "cannot create the download file");
    }
    ~IncompleteFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    uint64_t size() const {
        struct stat st {};
        if (::fstat(fd_, &st) != 0) fail_io(path_, "cannot stat");
        return uint64_t(st.st_size);
    }
    void truncate(uint64_t n) {
        if (::ftruncate(fd_, off_t(n)) != 0) fail_io(path_, "cannot truncate");
    }
    // Feeds the first n bytes already on disk to the digest (a resumed download).
    void hash_prefix(Digest& d, uint64_t n) const {
        std::vector<char> buf(1 << 20);
        for (uint64_t off = 0; off < n;) {
            const ssize_t got = ::pread(fd_, buf.data(), std::min<uint64_t>(buf.size(), n - off), off_t(off));
            if (got <= 0) fail_io(path_, "cannot read back the partial download");
            d.update(buf.data(), size_t(got));
            off += uint64_t(got);
        }
    }
    // Appends at `offset`; false (errno kept in write_errno) on a write error.
    bool write_at(uint64_t offset, std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::pwrite(fd_, data.data(), data.size(), off_t(offset));
            if (n < 0) {
                if (errno == EINTR) continue;
                write_errno = errno;
                return false;
            }
            data.remove_prefix(size_t(n));
            offset += uint64_t(n);
        }
        return true;
    }
    void sync_and_close() {
        if (::fsync(fd_) != 0) fail_io(path_, "cannot write the download to disk");
        ::close(fd_);
        fd_ = -1;
    }
    int write_errno = 0;

private:
    std::string path_;
    int fd_ = -1;
};

}  // namespace

uint64_t download_blob(HubApi& api, const std::string& repo, const std::string& commit, const BlobDownload& blob,
                       const std::function<void(uint64_t)>& on_bytes) {
    const std::string incomplete = blob.blob_path + ".incomplete";
    IncompleteFile out(incomplete);
    Digest digest = Digest::sha256();
    const bool verify = !blob.sha256.empty();
    uint64_t fetched = 0;
    bool reported_prefix = false;
    const int retries = api.options().retries;
    for (int attempt = 0;; ++attempt) {
        uint64_t offset = out.size();
        if (blob.size && offset > *blob.size) out.truncate(offset = 0);
        digest.reset();
        if (verify) out.hash_prefix(digest, offset);
        if (!reported_prefix) {
            if (offset) on_bytes(offset);
            reported_prefix = true;
        }
        if (blob.size && offset == *blob.size) break;  // a previous run finished the bytes

        HttpRequest req;
        req.url = blob.url;
        req.range_from = offset;
        uint64_t at = offset;
        bool first_chunk = true;
        req.sink = [&](long status, std::string_view data) {
            if (std::exchange(first_chunk, false) && status == 200 && at > 0) {  // the Range was ignored: start over
                out.truncate(0);
                digest.reset();
                on_bytes(0);
                at = 0;
            }
            if (!out.write_at(at, data)) return false;
            if (verify) digest.update(data.data(), data.size());
            at += data.size();
            fetched += data.size();
            on_bytes(data.size());
            return true;
        };
        std::string failure;
        try {
            // The token goes to the Hub only, never to the CDN host a redirect named.
            const HubOptions& hub = api.options();
            if (!hub.token.empty() && req.url.starts_with(hub.endpoint + "/"))
                req.headers.push_back("Authorization: Bearer " + hub.token);
            const HttpResponse r = api.client().perform(req);
            if (r.status == 416 && blob.size && out.size() == *blob.size) break;  // already whole
            if (r.status >= 500 || r.status == 429 || r.status == 416) {
                if (r.status == 416) out.truncate(0);
                failure = fmt::format("HTTP {}", r.status);
            } else {
                api.check(r, repo, commit, blob.file);
                if (!blob.size || at == *blob.size) break;
                failure = fmt::format("got {} of {} bytes", at, *blob.size);
            }
        } catch (const TransportError& e) {
            if (e.aborted) fail_errno(out.write_errno, incomplete, "cannot write the download");
            if (!e.retryable) throw;
            failure = e.what();
        }
        if (attempt >= retries)
            fail("{}: download failed after {} attempts: {} (run slm pull again to resume from {})", blob.file,
                 attempt + 1, failure, fmt::format("byte {}", out.size()));
        api.back_off(attempt + 1);
    }
    const uint64_t size = out.size();
    if (blob.size && size != *blob.size) {
        ::unlink(incomplete.c_str());
        fail("{}: downloaded {} bytes, the Hub lists {}; the download was deleted", blob.file, size, *blob.size);
    }
    if (verify) {
        const std::string got = digest.hex();
        if (got != blob.sha256) {
            ::unlink(incomplete.c_str());
            fail("{}: sha256 mismatch: expected {}, got {}; the corrupt download was deleted (run slm pull again)",
                 blob.file, blob.sha256, got);
        }
    }
    out.sync_and_close();
    if (::rename(incomplete.c_str(), blob.blob_path.c_str()) != 0)
        fail_io(blob.blob_path, "cannot move the blob into place");
    return fetched;
}

}  // namespace slm::hub
