// Scheduler: continuous batching. One thread owns the model; every step it gathers the next token
// of each decoding sequence and chunks of waiting prompts into ONE forward (one per distinct LoRA
// adapter set among them: a forward applies one set), samples, and streams the pieces to each
// request's GenerationStream. Requests wait in a bounded queue (full: 429);
// a sequence's KV cache is kept after it ends so that a later request sharing its prefix (the same
// system prompt, the previous turns of a chat) only processes the new suffix, when it runs under
// the same adapter set as the kept cache.
#pragma once

#include "server/generation_stream.h"
#include "server/inference_backend.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace slm::server {

struct SchedulerOptions {
    int queue_size = 32;      // jobs that may wait for a free sequence
    int batch_tokens = 256;   // most tokens per forward
};

struct GenerationJob {
    std::vector<int32_t> prompt;  // at least one token, shorter than the context
    int max_tokens = 0;           // 0: until the context is full
    std::vector<std::string> stop;
    SamplingParams sampling;
    int top_logprobs = -1;        // -1: no logprobs; otherwise also this many alternatives (<= 20)
    bool ignore_eos = false;
    AdapterSet adapters;          // LoRA adapters to run under (empty: the base model)
};

struct SchedulerStats {
    int64_t forwards = 0;             // forward calls made
    int64_t tokens = 0;               // tokens processed in them (prompt + decode)
    int64_t max_sequences_in_forward = 0;
    int64_t adapter_split_steps = 0;      // steps whose sequences needed several forwards (adapter sets)
    int64_t multi_sequence_forwards = 0;  // forwards that carried more than one sequence
    int64_t reused_prompt_tokens = 0;     // prompt tokens served from kept KV caches
    int64_t completed = 0;
};

class Scheduler {
public:
    Scheduler(InferenceBackend& backend, SchedulerOptions options);
    ~Scheduler();  // shutdown(0) if not done

    int context_length() const { return backend_.context_length(); }

    // Queues the jobs (all or none: one request's `n` choices) and returns their streams.
    // Throws ApiError 429 when the queue has no room, 503 when shutting down.
    std::vector<std::shared_ptr<GenerationStream>> submit(std::vector<GenerationJob> jobs);

    // Runs `work` on the scheduler thread between two steps (it owns the model) and waits.
    void run_exclusive(const std::function<void(InferenceBackend&)>& work);

    // Refuses new jobs, lets running and queued ones finish for up to `grace`, cancels the
    // rest, and stops the thread.
    void shutdown(std::chrono::milliseconds grace);

    SchedulerStats stats() const;

private:
    struct Queued {
        GenerationJob job;
        std::shared_ptr<GenerationStream> stream;
        std::chrono::steady_clock::time_point queued_at;
    };
    struct Slot;
    void loop();
    void admit(Queued queued);
    bool step();  // false when nothing was active
    struct Drawn {
        int32_t token = 0;
        std::vector<float> log_probs;  // of the model's distribution, when top_logprobs is asked
        std::string error;             // the sampler failed (every token excluded): ends the request
    };
    // Row `row` of a step: from its logits, or (top.k > 0) from its most likely tokens. Touches
    // only `slot`: slots are drawn in parallel.
    Drawn draw(Slot& slot, float* logits, const TopTokens& top, size_t row);
    void on_token(Slot& slot, Drawn drawn);
    void finish(Slot& slot, const std::string& reason, const std::string& error = "");
    bool any_active() const;

    InferenceBackend& backend_;
    SchedulerOptions options_;
    std::vector<Slot> slots_;
    uint64_t clock_ = 0;  // admission counter, for least-recently-used slot choice

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Queued> queue_;
    std::deque<std::function<void()>> exclusive_;
    bool accepting_ = true;
    bool stop_ = false;
    bool cancel_all_ = false;
    int active_count_ = 0;  // read by shutdown() under mutex_
    SchedulerStats stats_;
    std::thread thread_;
};

}  // namespace slm::server
