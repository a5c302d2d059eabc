// RequestLog: per-request records and the one-line access log.
#include "server/request_log.h"

#include <fmt/format.h>

#include <cstdio>

namespace slm::server {

std::shared_ptr<RequestRecord> RequestLog::begin(const void* key) {
    auto record = std::make_shared<RequestRecord>();
    std::lock_guard lock(mutex_);
    running_[key] = record;
    return record;
}

std::shared_ptr<RequestRecord> RequestLog::record(const void* key) {
    std::lock_guard lock(mutex_);
    auto& slot = running_[key];
    if (!slot) slot = std::make_shared<RequestRecord>();
    return slot;
}

void RequestLog::finish(const void* key, const std::string& method, const std::string& path, int status) {
    std::shared_ptr<RequestRecord> record;
    {
        std::lock_guard lock(mutex_);
        auto it = running_.find(key);
        if (it != running_.end()) {
            record = std::move(it->second);
            running_.erase(it);
        }
    }
    finished_.fetch_add(1);
    if (!enabled_) return;
    const double ms = record ? std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                         record->start).count()
                             : 0.0;
    const int64_t in = record ? record->tokens_in.load() : 0;
    const int64_t out = record ? record->tokens_out.load() : 0;
    fmt::print(stderr, "slm serve: {} {} {} tokens_in={} tokens_out={} {:.1f} ms\n", method, path, status, in, out, ms);
}

}  // namespace slm::server
