// Progress: what long work (convert, quantize, eval, download) shows the user. On a terminal a
// single redrawn bar with rate and ETA; otherwise a plain line every few seconds, so logs stay
// readable. Output goes to stderr, never mixing with results on stdout; SLM_NO_PROGRESS=1 silences it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace slm {

class Progress {
public:
    // `unit` names what is counted ("tensors", "MiB", "examples"); total 0 means unknown.
    // `initial`: work already done before this run (a resumed training run): counted in the
    // percentage, not in the rate and ETA.
    Progress(std::string label, uint64_t total, std::string unit = "", uint64_t initial = 0);
    ~Progress();
    void advance(uint64_t n = 1);
    void set(uint64_t done);
    void finish();  // draws the final state and ends the line
    // Text shown after the counts (training: loss, learning rate, tokens/s).
    void set_status(std::string status) { status_ = std::move(status); }

private:
    void draw(bool final);
    std::string label_, unit_, status_;
    uint64_t total_, done_ = 0, initial_ = 0;
    bool tty_, finished_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace slm
