// HubApi: the model-info call, HEAD metadata (following only relative redirects, as
// huggingface_hub does, so a CDN redirect's Location is where the GET goes), error messages.
#include "hub/hub_api.h"

#include <fmt/format.h>
#include <slm/error.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

namespace slm::hub {

std::string normalize_etag(std::string etag) {
    if (etag.starts_with("W/")) etag = etag.substr(2);
    while (!etag.empty() && etag.front() == '"') etag.erase(etag.begin());
    while (!etag.empty() && etag.back() == '"') etag.pop_back();
    return etag;
}

std::string url_quote(const std::string& s, bool keep_slash) {
    std::string out;
    for (const unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
            out += char(c);
        else
            out += fmt::format("%{:02X}", c);
    }
    return out;
}

HubApi::HubApi(const HubOptions& options) : options_(options), client_(options.timeout_s) {}

std::string HubApi::resolve_url(const std::string& repo, const std::string& revision, const std::string& path) const {
    return fmt::format("{}/{}/resolve/{}/{}", options_.endpoint, repo, url_quote(revision, false),
                       url_quote(path, true));
}

void HubApi::back_off(int attempt) const {
    const double s = options_.retry_delay_s * std::pow(2.0, attempt - 1);
    std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

HttpResponse HubApi::send(HttpRequest request) {
    if (!options_.token.empty()) request.headers.push_back("Authorization: Bearer " + options_.token);
    for (int attempt = 0;; ++attempt) {
        try {
            HttpResponse r = client_.perform(request);
            const bool server_busy = r.status >= 500 || r.status == 429;
            if (!server_busy || attempt >= options_.retries) return r;
        } catch (const TransportError& e) {
            if (!e.retryable || attempt >= options_.retries) {
                if (e.retryable)
                    throw TransportError(fmt::format("{} (after {} attempts)", e.what(), attempt + 1), false,
                                         e.aborted);
                throw;
            }
        }
        back_off(attempt + 1);
    }
}

void HubApi::check(const HttpResponse& r, const std::string& repo, const std::string& revision,
                   const std::string& file) const {
    if (r.status >= 200 && r.status < 400) return;
    const std::string code = r.header("x-error-code");
    const std::string token_hint =
        options_.token.empty() ? "no token was sent: set HF_TOKEN (or run `huggingface-cli login`) to a token of an "
                                 "account that has accepted the model's terms on its page"
                               : "the token (HF_TOKEN or the token file) was refused or has no access: accept the "
                                 "model's terms on its page with that account, or set HF_TOKEN to another token";
    if (code == "GatedRepo" || (code.empty() && (r.status == 401 || r.status == 403) && !file.empty()))
        fail("{} is a gated or private repository and access was refused (HTTP {}); {}", repo, r.status, token_hint);
    if (code == "RepoNotFound" || (code.empty() && file.empty() && (r.status == 404 || r.status == 401)))
        fail("repository {} not found on {} (HTTP {}): check the name; a private repository needs HF_TOKEN", repo,
             options_.endpoint, r.status);
    if (code == "RevisionNotFound")
        fail("revision '{}' not found in {} (HTTP {}): expected a branch, tag or commit of the repository", revision,
             repo, r.status);
    if (code == "EntryNotFound" || (r.status == 404 && !file.empty()))
        fail("{} not found in {} at revision {} (HTTP {})", file, repo, revision, r.status);
    if (r.status == 401 || r.status == 403) fail("{}: access refused (HTTP {}); {}", repo, r.status, token_hint);
    std::string detail = r.header("x-error-message");
    if (detail.empty()) detail = r.body.substr(0, 200);
    fail("{}: HTTP {}{}{}", r.url, r.status, detail.empty() ? "" : ": ", detail);
}

RepoInfo HubApi::model_info(const std::string& repo, const std::string& revision) {
    HttpRequest req;
    req.url =
        fmt::format("{}/api/models/{}/revision/{}?blobs=true", options_.endpoint, repo, url_quote(revision, false));
    const HttpResponse r = send(req);
    check(r, repo, revision);
    RepoInfo info;
    try {
        const auto j = nlohmann::json::parse(r.body);
        info.commit = j.at("sha").get<std::string>();
        for (const auto& s : j.value("siblings", nlohmann::json::array())) {
            RepoFile f;
            f.path = s.at("rfilename").get<std::string>();
            f.size = s.value("size", uint64_t(0));
            f.blob_id = s.value("blobId", std::string());
            if (s.contains("lfs") && s["lfs"].is_object()) {
                f.lfs_sha256 = s["lfs"].value("sha256", std::string());
                f.size = s["lfs"].value("size", f.size);
            }
            info.files.push_back(std::move(f));
        }
    } catch (const nlohmann::json::exception& e) {
        fail("{}: unexpected answer from the Hub ({}): {}", req.url, r.status, e.what());
    }
    if (info.commit.size() != 40) fail("{}: the Hub gave no commit sha for {}@{}", req.url, repo, revision);
    return info;
}

FileMetadata HubApi::file_metadata(const std::string& repo, const std::string& commit, const std::string& path) {
    HttpRequest req;
    req.method = "HEAD";
    req.url = resolve_url(repo, commit, path);
    req.follow_redirects = false;
    req.headers.push_back("Accept-Encoding: identity");  // the real size, not a compressed one
    HttpResponse r;
    for (int hop = 0;; ++hop) {
        r = send(req);
        const std::string location = r.header("location");
        // A relative redirect stays on the Hub (a renamed repository); follow it. An absolute
        // one leads to the CDN: that is where the file will be fetched from.
        if (r.status >= 300 && r.status < 400 && location.starts_with("/") && hop < 5) {
            const auto scheme_end = req.url.find("://");
            const auto host_end = req.url.find('/', scheme_end + 3);
            req.url = req.url.substr(0, host_end) + location;
            continue;
        }
        break;
    }
    check(r, repo, commit, path);
    FileMetadata m;
    m.commit = r.header("x-repo-commit");
    std::string etag = r.header("x-linked-etag");
    if (etag.empty()) etag = r.header("etag");
    m.etag = normalize_etag(etag);
    m.location = r.header("location");
    if (m.location.empty()) m.location = req.url;
    std::string size = r.header("x-linked-size");
    if (size.empty()) size = r.header("content-length");
    if (!size.empty()) m.size = std::strtoull(size.c_str(), nullptr, 10);
    if (m.etag.empty() || m.etag.find('/') != std::string::npos || m.etag.starts_with("."))
        fail("{}: the Hub gave no usable ETag for {}, so it cannot be cached reliably", req.url, path);
    return m;
}

}  // namespace slm::hub
