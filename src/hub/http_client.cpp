// HttpClient on libcurl's easy interface. The stall timeout is libcurl's low-speed limit
// (fewer than 1 byte/s for `timeout` seconds), so a slow but moving download never times out.
#include "hub/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>

namespace slm::hub {
namespace {

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
    const HttpRequest* request;
    HttpResponse* response;
    long status = 0;  // of the response being received
    bool aborted = false;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {  // a new response (after a redirect or a 100): start over
        t.response->headers.clear();
        const auto sp = line.find(' ');
        t.status =
            sp == std::string_view::npos ? 0 : std::strtol(std::string(line.substr(sp + 1, 3)).c_str(), nullptr, 10);
        return size * n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * n;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
        value.remove_suffix(1);
    t.response->headers[name] = std::string(value);
    return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    const std::string_view chunk(data, size * n);
    if (t.request->sink && t.status >= 200 && t.status < 300) {
        if (!t.request->sink(t.status, chunk)) {
            t.aborted = true;
            return 0;  // libcurl: CURLE_WRITE_ERROR
        }
    } else if (t.response->body.size() < (1 << 20)) {
        t.response->body.append(chunk);
    }
    return chunk.size();
}

bool retryable(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
            return true;
        default:
            return false;
    }
}

}  // namespace

HttpClient::HttpClient(double timeout_s) : curl_(nullptr), timeout_s_(timeout_s) {
    global_init();
    curl_ = curl_easy_init();
    if (!curl_) fail("libcurl: cannot create a handle");
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResponse HttpClient::perform(const HttpRequest& request) {
    CURL* c = static_cast<CURL*>(curl_);
    curl_easy_reset(c);
    HttpResponse response;
    Transfer t{&request, &response};
    char error[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = nullptr;
    for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());

    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_USERAGENT,
                     "slm/"
                     "0.1"
                     " (huggingface_hub-compatible)");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    // The Authorization header is not sent on to another host after a redirect (libcurl's
    // default), as the CDN URLs the Hub redirects to are signed and must not see the token.
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, long(timeout_s_ * 1000));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, long(std::max(1.0, std::ceil(timeout_s_))));
    // Larger reads than libcurl's 16 KiB default: fewer system calls per byte, as curl's own tool
    // does (at 16 KiB a loopback download spent a third more system time than curl's).
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    if (request.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    const std::string range = request.range_to ? fmt::format("{}-{}", request.range_from, *request.range_to)
                                               : fmt::format("{}-", request.range_from);
    if (request.range_from > 0 || request.range_to) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());

    const CURLcode code = curl_easy_perform(c);
    curl_slist_free_all(headers);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    char* effective = nullptr;
    if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK && effective) response.url = effective;
    if (code == CURLE_OK) return response;
    if (t.aborted) throw TransportError(fmt::format("{}: transfer stopped", request.url), false, true);
    std::string reason = error[0] ? error : curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT) reason = fmt::format("no data for {} s ({})", timeout_s_, reason);
    throw TransportError(fmt::format("{}: {}", request.url, reason), retryable(code), false);
}

}  // namespace slm::hub
