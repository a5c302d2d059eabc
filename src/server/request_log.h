// RequestLog: one line per request on stderr (method, route, status, tokens in/out, duration).
// A handler (or the stream it starts) fills in token counts on its RequestRecord; the line is
// written when the HTTP layer has finished sending the response.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace slm::server {

struct RequestRecord {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::atomic<int64_t> tokens_in{0};
    std::atomic<int64_t> tokens_out{0};
};

class RequestLog {
public:
    explicit RequestLog(bool enabled) : enabled_(enabled) {}
    // Starts the record of request `key` (the address of the HTTP library's request object).
    std::shared_ptr<RequestRecord> begin(const void* key);
    // The record of a running request (a fresh one if begin was not called).
    std::shared_ptr<RequestRecord> record(const void* key);
    // Writes the line and forgets the record.
    void finish(const void* key, const std::string& method, const std::string& path, int status);
    int64_t finished_count() const { return finished_.load(); }

private:
    bool enabled_;
    std::mutex mutex_;
    std::unordered_map<const void*, std::shared_ptr<RequestRecord>> running_;
    std::atomic<int64_t> finished_{0};
};

}  // namespace slm::server
