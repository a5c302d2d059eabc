// Scheduler: the continuous-batching loop (admission with prefix reuse, one forward per step and
// adapter set, sampling, streaming, stop conditions, cancellation, shutdown).
#include "server/scheduler.h"

#include "server/api_error.h"

#include <slm/generator.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <future>
#include <numeric>

namespace slm::server {

using Clock = std::chrono::steady_clock;

struct Scheduler::Slot {
    int seq = 0;
    std::vector<int32_t> cached;  // tokens whose keys/values are in this sequence's cache
    AdapterSet cache_adapters;    // the adapters those keys/values were computed under
    uint64_t last_used = 0;

    // The running request (job == nullptr: the slot is free).
    std::unique_ptr<GenerationJob> job;
    std::shared_ptr<GenerationStream> stream;
    std::unique_ptr<TokenSampler> sampler;
    std::unique_ptr<PieceDecoder> decoder;
    std::unique_ptr<StopStringFilter> stops;
    size_t prompt_done = 0;  // prompt tokens in the cache
    bool decoding = false;   // prompt done: next_token is fed next
    int32_t next_token = 0;
    int generated = 0;
    int reused = 0;
    Clock::time_point queued_at, first_token_at;
};

static size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

Scheduler::Scheduler(InferenceBackend& backend, SchedulerOptions options)
    : backend_(backend), options_(options), slots_(size_t(std::max(1, backend.max_sequences()))) {
    for (size_t i = 0; i < slots_.size(); ++i) slots_[i].seq = int(i);
    options_.batch_tokens = std::max(options_.batch_tokens, int(slots_.size()));
    thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { shutdown(std::chrono::milliseconds(0)); }

std::vector<std::shared_ptr<GenerationStream>> Scheduler::submit(std::vector<GenerationJob> jobs) {
    std::vector<std::shared_ptr<GenerationStream>> streams;
    {
        std::lock_guard lock(mutex_);
        if (!accepting_)
            throw ApiError(503, "The server is shutting down and accepts no new requests", "server_error", "",
                           "server_shutting_down");
        const int free_slots = int(slots_.size()) - active_count_;
        const int waiting_after = int(queue_.size() + jobs.size()) - std::max(0, free_slots);
        if (waiting_after > options_.queue_size)
            throw ApiError(429,
                           fmt::format("The server is busy: {} requests are running and {} waiting (queue limit {}); "
                                       "retry later",
                                       active_count_, queue_.size(), options_.queue_size),
                           "rate_limit_exceeded", "", "queue_full");
        for (auto& job : jobs) {
            auto stream = std::make_shared<GenerationStream>();
            streams.push_back(stream);
            queue_.push_back(Queued{std::move(job), stream, Clock::now()});
        }
    }
    wake_.notify_all();
    return streams;
}

void Scheduler::run_exclusive(const std::function<void(InferenceBackend&)>& work) {
    std::promise<void> done;
    auto future = done.get_future();
    {
        std::lock_guard lock(mutex_);
        if (stop_) throw ApiError(503, "The server is shutting down", "server_error", "", "server_shutting_down");
        exclusive_.push_back([&] {
            try {
                work(backend_);
                done.set_value();
            } catch (...) {
                done.set_exception(std::current_exception());
            }
        });
    }
    wake_.notify_all();
    future.get();
}

void Scheduler::shutdown(std::chrono::milliseconds grace) {
    {
        std::unique_lock lock(mutex_);
        accepting_ = false;
        if (!thread_.joinable()) return;
        wake_.wait_for(lock, grace, [&] { return queue_.empty() && active_count_ == 0; });
        cancel_all_ = true;
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

SchedulerStats Scheduler::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

bool Scheduler::any_active() const {
    return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.job != nullptr; });
}

void Scheduler::loop() {
    for (;;) {
        std::vector<Queued> admitted;
        std::deque<std::function<void()>> exclusive;
        bool cancel_all = false;
        {
            std::unique_lock lock(mutex_);
            const bool active = any_active();
            auto free_slots = [&] { return int(slots_.size()) - active_count_; };
            wake_.wait(lock, [&] {
                return stop_ || active || !exclusive_.empty() || (!queue_.empty() && free_slots() > 0);
            });
            cancel_all = cancel_all_;
            if (stop_ && !active && queue_.empty() && exclusive_.empty()) break;
            exclusive.swap(exclusive_);
            while (!queue_.empty() && free_slots() > 0 && !cancel_all) {
                admitted.push_back(std::move(queue_.front()));
                queue_.pop_front();
                ++active_count_;
            }
            if (cancel_all) {
                for (auto& q : queue_) {
                    GenerationSummary cancelled;
                    cancelled.finish_reason = "cancelled";
                    cancelled.prompt_tokens = int(q.job.prompt.size());
                    q.stream->finish(cancelled);
                }
                queue_.clear();
            }
        }
        for (auto& work : exclusive) work();
        for (auto& q : admitted) admit(std::move(q));
        if (cancel_all)
            for (auto& slot : slots_)
                if (slot.job) finish(slot, "cancelled");
        step();
    }
}

void Scheduler::admit(Queued queued) {
    const auto& prompt = queued.job.prompt;
    const AdapterSet& adapters = queued.job.adapters;
    // Keys and values computed under other adapters are not this request's: no prefix to share.
    auto shared_prefix = [&](const Slot& slot) {
        return slot.cache_adapters == adapters ? common_prefix(slot.cached, prompt) : size_t(0);
    };
    // A free slot, preferring the one whose kept cache shares the longest prefix, then the
    // least recently used (so that popular prefixes stay cached).
    Slot* chosen = nullptr;
    size_t chosen_common = 0;
    for (auto& slot : slots_) {
        if (slot.job) continue;
        const size_t common = shared_prefix(slot);
        if (!chosen || common > chosen_common || (common == chosen_common && slot.last_used < chosen->last_used)) {
            chosen = &slot;
            chosen_common = common;
        }
    }
    // A running sequence may hold a longer prefix (same system prompt, other client): copy it.
    Slot* donor = nullptr;
    size_t donor_common = chosen_common;
    for (auto& slot : slots_) {
        if (!slot.job || &slot == chosen) continue;
        const size_t common = shared_prefix(slot);
        if (common > donor_common) {
            donor = &slot;
            donor_common = common;
        }
    }
    size_t reuse = chosen_common;
    if (donor && donor_common >= 16) {
        backend_.copy_prefix(donor->seq, chosen->seq, int(donor_common));
        chosen->cached.assign(donor->cached.begin(), donor->cached.begin() + long(donor_common));
        reuse = donor_common;
    }
    // The last prompt token is always processed again: its logits start the generation.
    reuse = std::min(reuse, prompt.size() - 1);
    backend_.keep_prefix(chosen->seq, int(reuse));
    chosen->cached.resize(reuse);
    chosen->cache_adapters = adapters;

    Slot& s = *chosen;
    s.last_used = ++clock_;
    s.job = std::make_unique<GenerationJob>(std::move(queued.job));
    s.stream = std::move(queued.stream);
    s.sampler = backend_.new_sampler(s.job->sampling);
    s.sampler->accept_prompt(s.job->prompt);
    s.decoder = backend_.new_decoder();
    s.stops = std::make_unique<StopStringFilter>(s.job->stop);
    s.prompt_done = reuse;
    s.decoding = false;
    s.generated = 0;
    s.reused = int(reuse);
    s.queued_at = queued.queued_at;
    std::lock_guard lock(mutex_);
    stats_.reused_prompt_tokens += int64_t(reuse);
}

bool Scheduler::step() {
    for (auto& slot : slots_)
        if (slot.job && slot.stream->cancelled()) finish(slot, "cancelled");

    std::vector<BatchEntry> batch;
    std::vector<Slot*> entry_slot;  // the slot of each batch entry
    int budget = options_.batch_tokens;
    for (auto& slot : slots_) {  // decode tokens first: they keep streams flowing
        if (!slot.job || !slot.decoding) continue;
        batch.push_back({slot.next_token, int32_t(slot.cached.size()), int32_t(slot.seq), true});
        entry_slot.push_back(&slot);
        slot.cached.push_back(slot.next_token);
        --budget;
    }
    // Prompt chunks, oldest request first.
    std::vector<Slot*> prefilling;
    for (auto& slot : slots_)
        if (slot.job && !slot.decoding) prefilling.push_back(&slot);
    std::sort(prefilling.begin(), prefilling.end(), [](Slot* a, Slot* b) { return a->last_used < b->last_used; });
    for (Slot* slot : prefilling) {
        if (budget <= 0) break;
        const auto& prompt = slot->job->prompt;
        const size_t n = std::min(size_t(budget), prompt.size() - slot->prompt_done);
        for (size_t i = 0; i < n; ++i) {
            const size_t at = slot->prompt_done + i;
            const bool last = at + 1 == prompt.size();
            batch.push_back({prompt[at], int32_t(slot->cached.size()), int32_t(slot->seq), last});
            entry_slot.push_back(slot);
            slot->cached.push_back(prompt[at]);
        }
        slot->prompt_done += n;
        budget -= int(n);
    }
    if (batch.empty()) return false;

    // A forward applies one adapter set to all its entries, so the step makes one forward per
    // distinct set among its sequences; the common case (all on the same set) stays one forward.
    std::vector<const AdapterSet*> sets;
    for (Slot* slot : entry_slot) {
        const AdapterSet& set = slot->job->adapters;
        if (std::none_of(sets.begin(), sets.end(), [&](const AdapterSet* s) { return *s == set; })) sets.push_back(&set);
    }
    // When every row's sampler draws from the most likely tokens only (and no request wants the
    // distribution's log-probabilities), the forwards return just the most any of them needs:
    // from a GPU, k ids and logits a row cross instead of the vocabulary's logits.
    int top_k = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
        if (!batch[i].logits) continue;
        const Slot& slot = *entry_slot[i];
        const int needed = slot.job->top_logprobs >= 0 ? 0 : slot.sampler->candidates_needed();
        if (needed <= 0 || needed > kMaxTopTokens) {
            top_k = 0;
            break;
        }
        top_k = std::max(top_k, needed);
    }
    std::vector<float> logits;        // every forward's rows, one after the other (top_k 0)
    TopTokens top;                    // ... or their most likely tokens
    top.k = top_k;
    std::vector<Slot*> logit_owner;   // the slot of each row
    int64_t forwards = 0, max_sequences = 0, multi_sequence = 0;
    try {
        std::vector<BatchEntry> group;
        std::vector<float> group_logits;
        TopTokens group_top;
        for (const AdapterSet* set : sets) {
            group.clear();
            std::vector<Slot*> group_slots;
            for (size_t i = 0; i < batch.size(); ++i) {
                Slot* slot = entry_slot[i];
                if (!(slot->job->adapters == *set)) continue;
                group.push_back(batch[i]);
                if (batch[i].logits) logit_owner.push_back(slot);
                if (std::find(group_slots.begin(), group_slots.end(), slot) == group_slots.end()) group_slots.push_back(slot);
            }
            if (top_k > 0) {
                backend_.forward_top(group, *set, top_k, group_top);
                top.k = group_top.k;  // at most the vocabulary
                top.ids.insert(top.ids.end(), group_top.ids.begin(), group_top.ids.end());
                top.logits.insert(top.logits.end(), group_top.logits.begin(), group_top.logits.end());
            } else {
                backend_.forward(group, *set, group_logits);
                logits.insert(logits.end(), group_logits.begin(), group_logits.end());
            }
            ++forwards;
            max_sequences = std::max(max_sequences, int64_t(group_slots.size()));
            if (group_slots.size() > 1) ++multi_sequence;
        }
    } catch (const std::exception& e) {
        // The cache state of these sequences is unknown now: forget it.
        for (auto& slot : slots_) {
            if (!slot.job) continue;
            backend_.keep_prefix(slot.seq, 0);
            slot.cached.clear();
            finish(slot, "error", e.what());
        }
        return true;
    }
    {
        std::lock_guard lock(mutex_);
        stats_.forwards += forwards;
        stats_.tokens += int64_t(batch.size());
        stats_.max_sequences_in_forward = std::max(stats_.max_sequences_in_forward, max_sequences);
        stats_.multi_sequence_forwards += multi_sequence;
        if (forwards > 1) stats_.adapter_split_steps += 1;
    }
    // Sampling is a sizeable share of a step on a small model: the rows are drawn side by side
    // on the compute threads, then their tokens delivered in batch order.
    const size_t vocab = size_t(backend_.vocab_size());
    std::vector<Drawn> drawn(logit_owner.size());
    backend_.for_each_row(logit_owner.size(), [&](size_t r) {
        drawn[r] = draw(*logit_owner[r], top.k > 0 ? nullptr : logits.data() + r * vocab, top, r);
    });
    for (size_t r = 0; r < logit_owner.size(); ++r) {
        Slot& slot = *logit_owner[r];
        slot.decoding = true;
        on_token(slot, std::move(drawn[r]));
    }
    return true;
}

Scheduler::Drawn Scheduler::draw(Slot& slot, float* logits, const TopTokens& top, size_t row) {
    const int vocab = backend_.vocab_size();
    Drawn drawn;
    if (top.k == 0 && slot.job->top_logprobs >= 0) {  // of the model's own distribution, before any sampling stage
        drawn.log_probs.assign(logits, logits + vocab);
        const float max = *std::max_element(drawn.log_probs.begin(), drawn.log_probs.end());
        double sum = 0.0;
        for (float x : drawn.log_probs) sum += std::exp(double(x - max));
        const float log_z = max + float(std::log(sum));
        for (float& x : drawn.log_probs) x -= log_z;
    }
    try {
        drawn.token = top.k > 0 ? slot.sampler->sample_top(top.row_ids(row), top.row_logits(row))
                                : slot.sampler->sample(std::span<float>(logits, size_t(vocab)));
    } catch (const std::exception& e) {
        drawn.error = e.what();
    }
    return drawn;
}

void Scheduler::on_token(Slot& slot, Drawn drawn) {
    if (!drawn.error.empty()) {
        finish(slot, "error", drawn.error);
        return;
    }
    const GenerationJob& job = *slot.job;
    const int vocab = backend_.vocab_size();
    GeneratedPiece piece;
    const int32_t token = drawn.token;
    const std::vector<float>& log_probs = drawn.log_probs;
    if (slot.generated == 0) slot.first_token_at = Clock::now();
    if (!job.ignore_eos && backend_.is_end_of_generation(token)) {
        finish(slot, "stop");
        return;
    }
    ++slot.generated;
    piece.token = token;
    piece.text = slot.decoder->push(token);
    if (!log_probs.empty()) {
        piece.logprob = log_probs[size_t(token)];
        std::vector<int32_t> order(static_cast<size_t>(vocab));
        std::iota(order.begin(), order.end(), 0);
        const size_t k = size_t(std::min(job.top_logprobs, vocab));
        std::partial_sort(order.begin(), order.begin() + long(k), order.end(),
                          [&](int32_t a, int32_t b) { return log_probs[size_t(a)] > log_probs[size_t(b)]; });
        for (size_t i = 0; i < k; ++i) piece.top.push_back({order[i], log_probs[size_t(order[i])]});
    }
    piece.text = slot.stops->push(piece.text);  // text that may be part of a stop string waits
    slot.stream->push(std::move(piece));
    if (slot.stops->stopped() || slot.sampler->constraint_complete()) {
        finish(slot, "stop");
    } else if ((job.max_tokens > 0 && slot.generated >= job.max_tokens) ||
               slot.cached.size() + 1 > size_t(backend_.context_length())) {
        finish(slot, "length");
    } else {
        slot.next_token = token;
    }
}

void Scheduler::finish(Slot& slot, const std::string& reason, const std::string& error) {
    if (reason != "cancelled" && reason != "error" && !slot.stops->stopped()) {
        GeneratedPiece tail;  // an incomplete character, and text held back for stop strings
        tail.text = slot.stops->push(slot.decoder->flush());
        if (!slot.stops->stopped()) tail.text += slot.stops->flush();
        if (!tail.text.empty()) slot.stream->push(std::move(tail));
    }
    // A request ended during its prompt keeps only the part that is really in the cache.
    if (!slot.decoding) slot.cached.resize(std::min(slot.cached.size(), slot.prompt_done));
    const auto now = Clock::now();
    GenerationSummary summary;
    summary.finish_reason = reason;
    summary.error = error;
    summary.prompt_tokens = int(slot.job->prompt.size());
    summary.cached_prompt_tokens = slot.reused;
    summary.completion_tokens = slot.generated;
    if (slot.generated > 0)
        summary.time_to_first_token_ms =
            std::chrono::duration<double, std::milli>(slot.first_token_at - slot.queued_at).count();
    summary.total_ms = std::chrono::duration<double, std::milli>(now - slot.queued_at).count();
    slot.stream->finish(summary);
    slot.job.reset();
    slot.stream.reset();
    slot.sampler.reset();
    slot.decoder.reset();
    slot.stops.reset();
    slot.decoding = false;
    {
        std::lock_guard lock(mutex_);
        --active_count_;
        stats_.completed += 1;
    }
    wake_.notify_all();
}

}  // namespace slm::server
