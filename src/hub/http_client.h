// A small blocking HTTP client on libcurl: GET and HEAD, optional redirects, a Range start,
// a connect timeout and a stall timeout, response headers of the final response, and a body
// streamed to a sink. One client per thread; it keeps its connections alive between requests.
#pragma once

#include <slm/error.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slm::hub {

struct HttpRequest {
    std::string method = "GET";  // GET or HEAD
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    bool follow_redirects = true;
    uint64_t range_from = 0;        // > 0: "Range: bytes=N-"
    std::optional<uint64_t> range_to;  // the last byte wanted: "Range: bytes=N-M"
    // Receives the body of a 2xx response (others are kept in HttpResponse::body); returning
    // false aborts the transfer (HttpClient::perform then throws TransportError{aborted}).
    std::function<bool(long status, std::string_view data)> sink;
};

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers;  // of the final response; names lower-case
    std::string body;
    std::string url;  // after redirects
    std::string header(const std::string& lower_name) const {
        const auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// The transfer itself failed (no connection, cut, stalled past the timeout, aborted by the sink).
class TransportError : public Error {
public:
    TransportError(const std::string& message, bool retryable, bool aborted)
        : Error(message), retryable(retryable), aborted(aborted) {}
    bool retryable, aborted;
};

class HttpClient {
public:
    explicit HttpClient(double timeout_s);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;
    HttpResponse perform(const HttpRequest& request);

private:
    void* curl_;
    double timeout_s_;
};

}  // namespace slm::hub
