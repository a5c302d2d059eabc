// GenerationStream: the hand-over between the Scheduler thread (producer of generated pieces)
// and the HTTP thread answering the request (consumer). The consumer may cancel at any time,
// e.g. when the client has disconnected; the scheduler then frees the sequence at its next step.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace slm::server {

struct TokenLogprob {
    int32_t token = 0;
    float logprob = 0.0f;
};

// One generated token and the text it released (text may be empty: an incomplete UTF-8
// character, or text held back while it may be the start of a stop string; token is -1 for the
// final piece that releases such held text).
struct GeneratedPiece {
    std::string text;
    int32_t token = -1;
    float logprob = 0.0f;              // log-probability of `token` under the model's distribution
    std::vector<TokenLogprob> top;     // the most likely alternatives, when requested
};

struct GenerationSummary {
    std::string finish_reason;  // "stop", "length", "cancelled" or "error"
    std::string error;          // when finish_reason is "error"
    int prompt_tokens = 0;
    int cached_prompt_tokens = 0;  // prompt tokens whose KV cache was reused from an earlier request
    int completion_tokens = 0;
    double time_to_first_token_ms = 0.0;
    double total_ms = 0.0;
};

class GenerationStream {
public:
    struct Update {
        std::vector<GeneratedPiece> pieces;
        std::optional<GenerationSummary> finished;  // set once, with the last update
    };

    // Consumer: blocks until there is something new (or `timeout` passes: empty update).
    Update next(std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));
    // Consumer: gathers everything until the end.
    Update wait_all();
    // Consumer: whether the stream has finished, waiting at most `timeout` for it (consumes nothing).
    bool wait_finished(std::chrono::milliseconds timeout);
    void cancel() { cancelled_.store(true); }

    // Producer side.
    bool cancelled() const { return cancelled_.load(); }
    void push(GeneratedPiece piece);
    void finish(GenerationSummary summary);

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<GeneratedPiece> pending_;
    std::optional<GenerationSummary> summary_;
    bool delivered_end_ = false;
    std::atomic<bool> cancelled_{false};
};

}  // namespace slm::server
