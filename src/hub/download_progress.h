// What a pull shows while it downloads: one line for the total (bytes, rate, ETA, through
// slm::Progress) whose status names the files in flight with their percentage, and a line per
// finished file. Thread-safe: the parallel downloads all report here.
#pragma once

#include <slm/progress.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace slm::hub {

class DownloadProgress {
public:
    DownloadProgress(bool enabled, std::string label, uint64_t total_bytes);
    void start(const std::string& file, uint64_t size);
    void add(const std::string& file, uint64_t bytes);
    void done(const std::string& file);
    void finish();

private:
    void update_status();
    bool enabled_;
    uint64_t unit_, bytes_ = 0;
    std::unique_ptr<Progress> bar_;
    std::map<std::string, std::pair<uint64_t, uint64_t>> active_;  // file -> (done, size)
    std::mutex mutex_;
};

std::string human_bytes(uint64_t n);

}  // namespace slm::hub
