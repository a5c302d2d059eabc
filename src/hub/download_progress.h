// What a pull shows while it downloads: one line for the total (bytes, rate, ETA, through
// slm::Progress) whose status names the files in flight with their percentage, and a line per
// finished file; and PullOptions::on_file_progress, when set. Thread-safe: the parallel
// downloads all report here.
#pragma once

#include <slm/hub.h>
#include <slm/progress.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace slm::hub {

class DownloadProgress {
public:
    DownloadProgress(bool enabled, std::string label, uint64_t total_bytes,
                     std::function<void(const FileProgress&)> on_file = {});
    void start(const std::string& file, uint64_t size, const std::string& digest);
    void add(const std::string& file, uint64_t bytes);
    void done(const std::string& file);
    void finish();

private:
    struct Active {
        uint64_t done = 0, size = 0;
        std::string digest;
        std::chrono::steady_clock::time_point reported;
    };
    void update_status();
    void report(const std::string& file, Active& a);
    bool enabled_;
    std::function<void(const FileProgress&)> on_file_;
    uint64_t unit_, bytes_ = 0;
    std::unique_ptr<Progress> bar_;
    std::map<std::string, Active> active_;
    std::mutex mutex_;
};

std::string human_bytes(uint64_t n);

}  // namespace slm::hub
