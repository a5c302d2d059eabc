// DownloadProgress: the total counted in KiB or MiB (Progress counts integers), files in flight
// as its status text, a plain line as each file completes.
#include "hub/download_progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace slm::hub {

std::string human_bytes(uint64_t n) {
    if (n >= (1ull << 30)) return fmt::format("{:.2f} GiB", double(n) / double(1ull << 30));
    if (n >= (1ull << 20)) return fmt::format("{:.1f} MiB", double(n) / double(1ull << 20));
    if (n >= 1024) return fmt::format("{:.1f} KiB", double(n) / 1024);
    return fmt::format("{} B", n);
}

DownloadProgress::DownloadProgress(bool enabled, std::string label, uint64_t total_bytes,
                                   std::function<void(const FileProgress&)> on_file)
    : enabled_(enabled), on_file_(std::move(on_file)), unit_(total_bytes >= (64ull << 20) ? (1ull << 20) : 1024) {
    if (enabled_)
        bar_ = std::make_unique<Progress>(std::move(label), (total_bytes + unit_ - 1) / unit_,
                                          unit_ == 1024 ? "KiB" : "MiB");
}

void DownloadProgress::report(const std::string& file, Active& a) {
    if (!on_file_) return;
    a.reported = std::chrono::steady_clock::now();
    on_file_(FileProgress{file, a.digest, a.size, a.done});
}

void DownloadProgress::start(const std::string& file, uint64_t size, const std::string& digest) {
    std::lock_guard lock(mutex_);
    Active& a = active_[file];
    a = Active{0, size, digest, {}};
    report(file, a);
    update_status();
}

void DownloadProgress::add(const std::string& file, uint64_t bytes) {
    std::lock_guard lock(mutex_);
    bytes_ += bytes;
    Active& a = active_[file];
    a.done += bytes;
    if (std::chrono::steady_clock::now() - a.reported >= std::chrono::milliseconds(100)) report(file, a);
    if (!bar_) return;
    update_status();
    bar_->set((bytes_ + unit_ - 1) / unit_);
}

void DownloadProgress::done(const std::string& file) {
    std::lock_guard lock(mutex_);
    Active& a = active_[file];
    const uint64_t size = a.size;
    a.done = a.size;
    report(file, a);
    active_.erase(file);
    if (!enabled_) return;
    update_status();
    // On a terminal the bar is redrawn in place: clear it before the line, it comes back below.
    const bool tty = ::isatty(2) != 0;
    fmt::print(stderr, "{}  {} ({})\n", tty ? "\r\033[K" : "", file, human_bytes(size));
    std::fflush(stderr);
}

void DownloadProgress::finish() {
    std::lock_guard lock(mutex_);
    if (!bar_) return;
    bar_->set_status("");
    bar_->set((bytes_ + unit_ - 1) / unit_);
    bar_->finish();
}

void DownloadProgress::update_status() {
    if (!bar_) return;
    std::string status;
    int shown = 0;
    for (const auto& [file, a] : active_) {
        if (shown++ == 2) {
            status += fmt::format(" +{}", active_.size() - 2);
            break;
        }
        const double pct = a.size ? 100.0 * double(a.done) / double(a.size) : 0;
        status += fmt::format("{}{} {:.0f}%", status.empty() ? "" : ", ", file.substr(file.rfind('/') + 1), pct);
    }
    bar_->set_status(status);
}

}  // namespace slm::hub
