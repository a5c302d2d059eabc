// Progress bar on a terminal (redrawn at most 10 times a second), plain lines every 5 s elsewhere.
#include <slm/progress.h>

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace slm {
namespace {
bool progress_disabled() {
    const char* v = std::getenv("SLM_NO_PROGRESS");
    return v && *v && std::string(v) != "0";
}

std::string format_seconds(double s) {
    if (s < 0 || s > 1e7) return "?";
    const int t = int(s + 0.5);
    if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, t / 60 % 60);
    return fmt::format("{}:{:02}", t / 60, t % 60);
}
}  // namespace

Progress::Progress(std::string label, uint64_t total, std::string unit, uint64_t initial)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), done_(initial), initial_(initial),
      tty_(::isatty(2) != 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
    if (progress_disabled()) finished_ = true;
}

Progress::~Progress() { finish(); }

void Progress::advance(uint64_t n) { set(done_ + n); }

void Progress::set(uint64_t done) {
    done_ = done;
    if (finished_) return;
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_draw_).count();
    if (since >= (tty_ ? 0.1 : 5.0)) {
        last_draw_ = now;
        draw(false);
    }
}

void Progress::finish() {
    if (finished_) return;
    draw(true);
    finished_ = true;
}

void Progress::draw(bool final) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = elapsed > 0 ? double(done_ - std::min(done_, initial_)) / elapsed : 0;
    const std::string unit = unit_.empty() ? "" : " " + unit_;
    std::string line;
    if (total_ > 0) {
        const double frac = std::min(1.0, double(done_) / double(total_));
        const double eta = rate > 0 ? double(total_ - std::min(done_, total_)) / rate : -1;
        std::string bar;
        if (tty_) {
            constexpr int width = 30;
            const int filled = int(frac * width);
            bar = fmt::format("[{:#<{}}{:.<{}}] ", "", filled, "", width - filled);
        }
        line = fmt::format("{}: {}{:5.1f}% {}/{}{} {:.1f}{}/s {} {}", label_, bar, frac * 100, done_, total_, unit,
                           rate, unit, final ? "elapsed" : "ETA", format_seconds(final ? elapsed : eta));
    } else {
        line = fmt::format("{}: {}{} {:.1f}{}/s elapsed {}", label_, done_, unit, rate, unit, format_seconds(elapsed));
    }
    if (!status_.empty()) line += "  " + status_;
    if (tty_) fmt::print(stderr, "\r\033[K{}{}", line, final ? "\n" : "");
    else fmt::print(stderr, "{}\n", line);
    std::fflush(stderr);
}

}  // namespace slm
