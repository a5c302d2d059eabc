// download_blob: the single stream's attempt loop (resume from the .incomplete's length, back off
// after a cut or a stall) with its streaming sha256, the choice of ranges for a large blob, and
// the checks before the rename.
#include "hub/blob_download.h"

#include <fmt/format.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "hub/digest.h"
#include "hub/fs_errors.h"
#include "hub/incomplete_file.h"
#include "hub/ranged_download.h"

namespace slm::hub {
namespace {

constexpr uint64_t writeback_step = uint64_t(8) << 20;  // bytes between writeback hints

// The single stream: from the .incomplete's length to the end, resumed after a cut or a stall.
uint64_t download_stream(HubApi& api, const std::string& repo, const std::string& commit, const BlobDownload& blob,
                         IncompleteFile& out, Digest* digest, const std::function<void(uint64_t)>& on_bytes) {
    uint64_t fetched = 0;
    bool reported_prefix = false;
    const int retries = api.options().retries;
    for (int attempt = 0;; ++attempt) {
        uint64_t offset = out.size();
        if (blob.size && offset > *blob.size) out.truncate(offset = 0);
        if (digest) {
            digest->reset();
            out.hash_range(*digest, 0, offset);
        }
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
                if (digest) digest->reset();
                on_bytes(0);
                at = 0;
            }
            if (!out.write_at(at, data)) return false;
            if (digest) digest->update(data.data(), data.size());
            if ((at + data.size()) / writeback_step != at / writeback_step)
                out.start_writeback(at / writeback_step * writeback_step, at + data.size());
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
            if (e.aborted) fail_errno(out.write_errno, out.path(), "cannot write the download");
            if (!e.retryable) throw;
            failure = e.what();
        }
        if (attempt >= retries)
            fail("{}: download failed after {} attempts: {} (run slm pull again to resume from {})", blob.file,
                 attempt + 1, failure, fmt::format("byte {}", out.size()));
        api.back_off(attempt + 1);
    }
    return fetched;
}

}  // namespace

uint64_t download_blob(HubApi& api, const std::string& repo, const std::string& commit, const BlobDownload& blob,
                       const std::function<void(uint64_t)>& on_bytes) {
    const std::string incomplete = blob.blob_path + ".incomplete";
    const std::string ranged = ranges_data_path(blob.blob_path);
    Digest sha256 = Digest::sha256();
    Digest* digest = blob.sha256.empty() ? nullptr : &sha256;
    std::string path = incomplete;
    uint64_t fetched = 0;
    // Ranges for a large blob with a sha256 (that catches what a crash may leave behind a record),
    // or to finish what an earlier ranged run began.
    if (blob.size && digest &&
        (file_exists(ranged) || (blob.connections > 1 && *blob.size >= blob.ranged_min))) {
        uint64_t prefix = 0;  // a single stream's bytes, taken over as the first range's
        if (!file_exists(ranged) && file_exists(incomplete)) {
            prefix = file_size(incomplete);
            if (::rename(incomplete.c_str(), ranged.c_str()) != 0) fail_io(ranged, "cannot take over the download");
        }
        try {
            IncompleteFile out(ranged);
            fetched = download_ranges(api, repo, commit, blob, out, prefix, digest, on_bytes);
            path = ranged;
        } catch (const RangesUnsupported&) {  // one stream it is, from the start
            ::unlink(ranged.c_str());
            ::unlink(ranges_record_path(blob.blob_path).c_str());
            on_bytes(0);
        }
    }
    IncompleteFile out(path);
    if (path == incomplete) fetched += download_stream(api, repo, commit, blob, out, digest, on_bytes);
    const uint64_t size = out.size();
    auto discard = [&] {
        ::unlink(path.c_str());
        if (path == ranged) ::unlink(ranges_record_path(blob.blob_path).c_str());
    };
    if (blob.size && size != *blob.size) {
        discard();
        fail("{}: downloaded {} bytes, the Hub lists {}; the download was deleted", blob.file, size, *blob.size);
    }
    if (digest) {
        const std::string got = digest->hex();
        if (got != blob.sha256) {
            discard();
            fail("{}: sha256 mismatch: expected {}, got {}; the corrupt download was deleted (run slm pull again)",
                 blob.file, blob.sha256, got);
        }
    }
    out.sync_and_close();
    if (::rename(path.c_str(), blob.blob_path.c_str()) != 0) fail_io(blob.blob_path, "cannot move the blob into place");
    if (path == ranged) ::unlink(ranges_record_path(blob.blob_path).c_str());
    return fetched;
}

}  // namespace slm::hub
