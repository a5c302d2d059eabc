// download_ranges: plan (or reload) the ranges, one thread and connection per range with its own
// retries, the digest and the progress record kept by the calling thread while they run.
#include "hub/ranged_download.h"

#include <fmt/format.h>
#include <slm/error.h>
#include <slm/file_io.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "hub/fs_errors.h"

namespace slm::hub {
namespace {


struct Range {
    uint64_t begin = 0, end = 0;    // [begin, end) of the file
    std::atomic<uint64_t> at{0};    // the next byte to write; begin <= at <= end
    bool finished() const { return at.load() >= end; }
};

using Ranges = std::vector<std::unique_ptr<Range>>;

// Ranges of at least ranged_min / connections bytes (a smaller range would end before its
// connection reached full speed), at most `connections` of them.
Ranges plan(uint64_t size, uint64_t prefix, int connections, uint64_t ranged_min) {
    const uint64_t rest = size - prefix;
    const uint64_t c = uint64_t(std::max(1, connections));
    const uint64_t n = std::clamp<uint64_t>(rest / std::max<uint64_t>(ranged_min / c, 1), 1, c);
    Ranges ranges;
    for (uint64_t i = 0; i < n; ++i) {
        auto r = std::make_unique<Range>();
        r->begin = i == 0 ? 0 : prefix + rest * i / n;
        r->end = prefix + rest * (i + 1) / n;
        r->at = i == 0 ? prefix : r->begin;
        ranges.push_back(std::move(r));
    }
    return ranges;
}

// The record of a previous run of this blob, or nothing when it is missing, unreadable or for
// another size (then every byte is fetched again).
Ranges load_record(const std::string& path, uint64_t size) {
    if (!file_exists(path)) return {};
    try {
        const auto j = nlohmann::json::parse(read_text_file(path));
        if (j.at("size").get<uint64_t>() != size) return {};
        Ranges ranges;
        uint64_t expected_begin = 0;
        for (const auto& p : j.at("ranges")) {
            auto r = std::make_unique<Range>();
            r->begin = p.at(0).get<uint64_t>();
            r->end = p.at(1).get<uint64_t>();
            r->at = p.at(2).get<uint64_t>();
            if (r->begin != expected_begin || r->end < r->begin || r->at < r->begin || r->at > r->end) return {};
            expected_begin = r->end;
            ranges.push_back(std::move(r));
        }
        if (expected_begin != size) return {};
        return ranges;
    } catch (const std::exception&) {
        return {};
    }
}

// Records how far each range got. The bytes themselves are not synced first (that would write the
// file to disk every second, slower than the download on a fast line): a killed process loses
// nothing the page cache holds, and after a power loss a record that claims lost bytes ends in a
// sha256 mismatch, which deletes the download and says so. Ranges are only used with a sha256.
void save_record(const std::string& path, uint64_t size, const Ranges& ranges) {
    std::vector<uint64_t> at;
    for (const auto& r : ranges) at.push_back(r->at.load());
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < ranges.size(); ++i) list.push_back({ranges[i]->begin, ranges[i]->end, at[i]});
    write_file_atomic(path, nlohmann::json{{"size", size}, {"ranges", list}}.dump());
}

struct Shared {
    std::atomic<bool> stop{false};
    std::atomic<bool> unsupported{false};
    std::atomic<uint64_t> fetched{0};
    std::mutex mutex;
    std::exception_ptr error;
    void set_error(std::exception_ptr e) {
        const std::lock_guard lock(mutex);
        if (!error) error = e;
        stop = true;
    }
};

// One range over its own connection, resumed from where it got after a cut or a stall.
void fetch_range(const HubOptions& options, const std::string& repo, const std::string& commit,
                 const BlobDownload& blob, IncompleteFile& out, Range& range, Shared& shared,
                 const std::function<void(uint64_t)>& on_bytes) {
    HubApi api(options);  // its own connection
    for (int attempt = 0; !range.finished() && !shared.stop; ++attempt) {
        HttpRequest req;
        req.url = blob.url;
        req.range_from = range.at;
        req.range_to = range.end - 1;
        if (!options.token.empty() && req.url.starts_with(options.endpoint + "/"))
            req.headers.push_back("Authorization: Bearer " + options.token);
        req.sink = [&](long status, std::string_view data) {
            if (shared.stop) return false;
            if (status != 206) {  // the whole file: this server ignores ranges
                shared.unsupported = true;
                shared.stop = true;
                return false;
            }
            data = data.substr(0, size_t(std::min<uint64_t>(data.size(), range.end - range.at)));
            if (!out.write_at(range.at, data)) return false;
            range.at += data.size();
            shared.fetched += data.size();
            on_bytes(data.size());
            return true;
        };
        std::string failure;
        try {
            const HttpResponse r = api.client().perform(req);
            if (r.status >= 500 || r.status == 429) {
                failure = fmt::format("HTTP {}", r.status);
            } else {
                api.check(r, repo, commit, blob.file);
                if (range.finished()) return;
                failure = fmt::format("the range ended at byte {} of {}", range.at.load(), range.end);
            }
        } catch (const TransportError& e) {
            if (shared.stop) return;  // another range failed, or ranges are unsupported
            if (e.aborted) fail_errno(out.write_errno, out.path(), "cannot write the download");
            if (!e.retryable) throw;
            failure = e.what();
        }
        if (attempt >= options.retries)
            fail("{}: download failed after {} attempts: {} (run slm pull again to resume)", blob.file, attempt + 1,
                 failure);
        api.back_off(attempt + 1);
    }
}

}  // namespace

std::string ranges_data_path(const std::string& blob_path) { return blob_path + ".incomplete-ranges"; }
std::string ranges_record_path(const std::string& blob_path) { return ranges_data_path(blob_path) + ".json"; }

uint64_t download_ranges(HubApi& api, const std::string& repo, const std::string& commit, const BlobDownload& blob,
                         IncompleteFile& out, uint64_t prefix, Digest* digest,
                         const std::function<void(uint64_t)>& on_bytes) {
    const uint64_t size = *blob.size;
    const std::string record = ranges_record_path(blob.blob_path);
    Ranges ranges = load_record(record, size);
    if (ranges.empty()) {
        ranges = plan(size, std::min(prefix, size), blob.connections, blob.ranged_min);
        save_record(record, size, ranges);
    }
    uint64_t on_disk = 0;
    for (const auto& r : ranges) on_disk += r->at - r->begin;
    if (on_disk) on_bytes(on_disk);

    Shared shared;
    std::vector<std::thread> threads;
    std::atomic<int> running{0};
    for (auto& r : ranges) {
        if (r->finished()) continue;
        ++running;
        threads.emplace_back([&, range = r.get()] {
            try {
                fetch_range(api.options(), repo, commit, blob, out, *range, shared, on_bytes);
            } catch (...) {
                shared.set_error(std::current_exception());
            }
            --running;
        });
    }

    // The digest reads each range's bytes back (from the page cache) as they land, in file order.
    uint64_t hashed = 0;
    size_t next = 0;  // the range the digest is in
    auto last_record = std::chrono::steady_clock::now();
    for (;;) {
        bool progressed = false;
        if (digest) {
            while (next < ranges.size() && hashed >= ranges[next]->end) ++next;
            if (next < ranges.size()) {
                const uint64_t upto = std::min(ranges[next]->at.load(), hashed + (uint64_t(16) << 20));
                if (upto > hashed) {
                    out.hash_range(*digest, hashed, upto);
                    out.start_writeback(hashed, upto);
                    hashed = upto;
                    progressed = true;
                }
            }
        }
        const bool done = running == 0;
        if (done && (!digest || next >= ranges.size() || shared.stop)) break;
        if (std::chrono::steady_clock::now() - last_record > std::chrono::seconds(1)) {
            save_record(record, size, ranges);
            last_record = std::chrono::steady_clock::now();
        }
        if (!progressed && !done) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    for (auto& t : threads) t.join();
    if (shared.unsupported)
        throw RangesUnsupported(fmt::format("{}: the server does not serve byte ranges", blob.file));
    if (shared.error) {
        save_record(record, size, ranges);
        std::rethrow_exception(shared.error);
    }
    return shared.fetched;
}

}  // namespace slm::hub
