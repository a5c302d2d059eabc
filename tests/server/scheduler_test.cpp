// Scheduler: continuous batching over a deterministic backend whose next token depends on the
// whole cached sequence, so a wrong cache (bad prefix reuse, mixed-up sequences) changes outputs.
// The LoRA adapter set of a forward is folded into every token it caches, as an adapted model's
// keys and values differ from the base's: KV reused across adapter sets changes outputs too.
#include "server/api_error.h"
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

namespace slm::server {
namespace {

constexpr int kVocab = 40;
constexpr int32_t kEnd = 0;

// The next token after a sequence: a hash of all of it, never the end id.
int32_t next_token_after(const std::vector<int32_t>& seq) {
    uint32_t h = 17;
    for (int32_t t : seq) h = h * 31 + uint32_t(t);
    return int32_t(1 + h % (kVocab - 1));
}

std::string token_text(int32_t t) { return std::string(1, char('a' + (t % 26))); }

// A number per adapter set (0: the base model), and what the backend caches for a token under it.
int adapter_tag(const AdapterSet& set) {
    if (set.empty()) return 0;
    uint32_t h = 7;
    for (const auto& [id, scale] : set.entries()) h = h * 31 + uint32_t(id + 1) * 1000 + uint32_t(scale * 100.0f);
    return 1 + int(h % 50);
}
int32_t cached_token(int32_t token, int tag) { return token + 1000 * tag; }

class HashBackend : public InferenceBackend {
public:
    HashBackend(int n_seq, int n_ctx, int delay_ms = 0) : seqs_(size_t(n_seq)), n_ctx_(n_ctx), delay_ms_(delay_ms) {}
    int context_length() const override { return n_ctx_; }
    int vocab_size() const override { return kVocab; }
    int max_sequences() const override { return int(seqs_.size()); }
    void forward(std::span<const BatchEntry> batch, const AdapterSet& adapters, std::vector<float>& logits) override {
        if (delay_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
        logits.clear();
        std::map<int, int> per_seq;
        for (const auto& e : batch) {
            auto& seq = seqs_.at(size_t(e.seq));
            if (e.pos != int(seq.size())) throw std::runtime_error("position does not continue the sequence");
            if (e.pos >= n_ctx_) throw std::runtime_error("context full");
            seq.push_back(cached_token(e.token, adapter_tag(adapters)));
            ++per_seq[e.seq];
            if (e.logits) {
                std::vector<float> row(kVocab, 0.0f);
                row[size_t(next_token_after(seq))] = 10.0f;
                logits.insert(logits.end(), row.begin(), row.end());
            }
        }
        std::lock_guard lock(mutex);
        forwards.push_back(per_seq);
        forward_tags.push_back(adapter_tag(adapters));
    }
    void forward_top(std::span<const BatchEntry> batch, const AdapterSet& adapters, int k, TopTokens& top) override {
        InferenceBackend::forward_top(batch, adapters, k, top);
        top_forwards.fetch_add(1);
    }
    void keep_prefix(int seq, int n) override {
        auto& s = seqs_.at(size_t(seq));
        s.resize(std::min(s.size(), size_t(n)));
    }
    void copy_prefix(int src, int dst, int n) override {
        const auto& s = seqs_.at(size_t(src));
        seqs_.at(size_t(dst)).assign(s.begin(), s.begin() + n);
        copies.fetch_add(1);
    }
    bool is_end_of_generation(int32_t token) const override { return token == kEnd; }
    std::unique_ptr<PieceDecoder> new_decoder() const override {
        struct Letters : PieceDecoder {
            std::string push(int32_t t) override { return token_text(t); }
            std::string flush() override { return ""; }
        };
        return std::make_unique<Letters>();
    }
    std::unique_ptr<TokenSampler> new_sampler(const SamplingParams& params) const override {
        struct Greedy : TokenSampler {
            std::vector<std::pair<int32_t, float>> bias;
            int32_t sample(std::span<float> logits) override {
                for (auto [id, b] : bias)
                    if (b == -std::numeric_limits<float>::infinity()) throw std::runtime_error("sampler: every token was excluded");
                for (auto [id, b] : bias) logits[size_t(id)] += b;
                return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
            }
            // Without a bias the largest logit alone decides.
            int candidates_needed() const override { return bias.empty() ? 1 : 0; }
            int32_t sample_top(std::span<const int32_t> ids, std::span<const float>) override { return ids[0]; }
            void accept_prompt(std::span<const int32_t>) override {}
            bool constraint_complete() const override { return false; }
        };
        auto g = std::make_unique<Greedy>();
        g->bias = params.logit_bias;
        return g;
    }

    std::mutex mutex;
    std::vector<std::map<int, int>> forwards;  // per forward: sequence -> entries
    std::vector<int> forward_tags;             // per forward: its adapter set's tag
    std::atomic<int> copies{0};
    std::atomic<int> top_forwards{0};  // forwards that returned only the top tokens

private:
    std::vector<std::vector<int32_t>> seqs_;
    int n_ctx_;
    int delay_ms_;
};

// What a job must produce: greedy continuation of `prompt` for `n` tokens, under the adapter set
// of tag `tag` (0: the base model).
std::string expected_text(const std::vector<int32_t>& prompt, int n, int tag = 0) {
    std::vector<int32_t> seq;
    for (int32_t t : prompt) seq.push_back(cached_token(t, tag));
    std::string text;
    for (int i = 0; i < n; ++i) {
        const int32_t t = next_token_after(seq);
        text += token_text(t);
        seq.push_back(cached_token(t, tag));
    }
    return text;
}

std::string text_of(const GenerationStream::Update& u) {
    std::string s;
    for (const auto& p : u.pieces) s += p.text;
    return s;
}

GenerationJob job(std::vector<int32_t> prompt, int max_tokens) {
    GenerationJob j;
    j.prompt = std::move(prompt);
    j.max_tokens = max_tokens;
    return j;
}

std::vector<int32_t> iota_prompt(int n, int start) {
    std::vector<int32_t> p(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) p[size_t(i)] = 1 + (start + i) % (kVocab - 1);
    return p;
}

TEST(Scheduler, SingleJobProducesTheGreedyContinuation) {
    HashBackend backend(2, 128);
    Scheduler scheduler(backend, {});
    auto prompt = iota_prompt(5, 3);
    auto result = scheduler.submit({job(prompt, 12)})[0]->wait_all();
    EXPECT_EQ(text_of(result), expected_text(prompt, 12));
    EXPECT_EQ(result.finished->finish_reason, "length");
    EXPECT_EQ(result.finished->prompt_tokens, 5);
    EXPECT_EQ(result.finished->completion_tokens, 12);
}

TEST(Scheduler, ConcurrentJobsShareOneForwardPerStepAndStayCorrect) {
    HashBackend backend(4, 256, /*delay_ms=*/1);
    Scheduler scheduler(backend, {});
    std::vector<GenerationJob> jobs;
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < 4; ++i) {
        prompts.push_back(iota_prompt(3 + i, 7 * i));
        jobs.push_back(job(prompts.back(), 20));
    }
    // Submitted separately, as four clients would.
    std::vector<std::shared_ptr<GenerationStream>> streams;
    for (auto& j : jobs) streams.push_back(scheduler.submit({j})[0]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(text_of(streams[size_t(i)]->wait_all()), expected_text(prompts[size_t(i)], 20));
    const auto stats = scheduler.stats();
    EXPECT_EQ(stats.max_sequences_in_forward, 4);
    EXPECT_GT(stats.multi_sequence_forwards, 10);
    // 4 jobs x 20 tokens in far fewer forwards than one per token.
    EXPECT_LT(stats.forwards, 40);
}

// A step whose samplers all draw from the most likely tokens asks the backend for only those
// (forward_top); one sampler that reads the whole row (a logit bias here) makes the steps it is
// in take all the logits. The text is the same either way.
TEST(Scheduler, StepsOfTopOnlySamplersTakeOnlyTheTopTokens) {
    HashBackend backend(2, 128, /*delay_ms=*/1);
    Scheduler scheduler(backend, {});
    const auto prompt = iota_prompt(5, 3);
    EXPECT_EQ(text_of(scheduler.submit({job(prompt, 12)})[0]->wait_all()), expected_text(prompt, 12));
    EXPECT_EQ(backend.top_forwards.load(), 12);  // the prompt's, then 11 decode steps
    EXPECT_EQ(scheduler.stats().forwards, 12);

    GenerationJob biased = job(iota_prompt(5, 20), 12);
    biased.sampling.logit_bias = {{kVocab - 1, 0.0f}};  // no effect on the text, but reads every logit
    auto plain_stream = scheduler.submit({job(prompt, 12)})[0];
    auto biased_stream = scheduler.submit({biased})[0];
    EXPECT_EQ(text_of(plain_stream->wait_all()), expected_text(prompt, 12));
    EXPECT_EQ(text_of(biased_stream->wait_all()), expected_text(iota_prompt(5, 20), 12));
    EXPECT_LT(backend.top_forwards.load(), scheduler.stats().forwards);
}

// Sequences are sampled side by side on the backend's threads; a sampler that fails ends its own
// request with the error, and the request sampled in the same step is untouched.
TEST(Scheduler, FailingSamplerEndsOnlyItsRequest) {
    HashBackend backend(2, 128, /*delay_ms=*/1);
    Scheduler scheduler(backend, {});
    const auto good_prompt = iota_prompt(4, 1), bad_prompt = iota_prompt(4, 9);
    GenerationJob bad = job(bad_prompt, 8);
    bad.sampling.logit_bias = {{3, -std::numeric_limits<float>::infinity()}};
    auto good_stream = scheduler.submit({job(good_prompt, 8)})[0];
    auto bad_stream = scheduler.submit({bad})[0];
    const auto bad_result = bad_stream->wait_all();
    EXPECT_EQ(bad_result.finished->finish_reason, "error");
    EXPECT_EQ(bad_result.finished->error, "sampler: every token was excluded");
    const auto good_result = good_stream->wait_all();
    EXPECT_EQ(text_of(good_result), expected_text(good_prompt, 8));
    EXPECT_EQ(good_result.finished->finish_reason, "length");
}

TEST(Scheduler, PromptChunksAndDecodeTokensShareAForward) {
    HashBackend backend(2, 512, /*delay_ms=*/2);
    Scheduler scheduler(backend, {.queue_size = 8, .batch_tokens = 16});
    auto first = scheduler.submit({job(iota_prompt(4, 1), 60)})[0];
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // first is decoding now
    auto long_prompt = iota_prompt(100, 5);
    auto second = scheduler.submit({job(long_prompt, 5)})[0];
    EXPECT_EQ(text_of(second->wait_all()), expected_text(long_prompt, 5));
    first->wait_all();
    // Some forward carried one decode token of the first and a prompt chunk of the second.
    std::lock_guard lock(backend.mutex);
    const bool mixed = std::any_of(backend.forwards.begin(), backend.forwards.end(), [](const auto& f) {
        return f.size() == 2 && std::any_of(f.begin(), f.end(), [](auto& kv) { return kv.second == 1; }) &&
               std::any_of(f.begin(), f.end(), [](auto& kv) { return kv.second > 1; });
    });
    EXPECT_TRUE(mixed);
    // No forward exceeded the token budget.
    for (const auto& f : backend.forwards) {
        int total = 0;
        for (auto& kv : f) total += kv.second;
        EXPECT_LE(total, 16);
    }
}

TEST(Scheduler, FullQueueIsRefusedWith429) {
    HashBackend backend(1, 4096, /*delay_ms=*/5);
    Scheduler scheduler(backend, {.queue_size = 1, .batch_tokens = 64});
    auto running = scheduler.submit({job(iota_prompt(3, 1), 200)})[0];
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    auto waiting = scheduler.submit({job(iota_prompt(3, 2), 2)})[0];
    try {
        scheduler.submit({job(iota_prompt(3, 3), 2)});
        FAIL() << "expected a 429";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 429);
        EXPECT_EQ(e.code(), "queue_full");
    }
    running->cancel();
    EXPECT_EQ(running->wait_all().finished->finish_reason, "cancelled");
    EXPECT_EQ(waiting->wait_all().finished->finish_reason, "length");
}

TEST(Scheduler, CancelledJobFreesItsSequence) {
    HashBackend backend(1, 4096, /*delay_ms=*/1);
    Scheduler scheduler(backend, {});
    auto endless = scheduler.submit({job(iota_prompt(3, 1), 0)})[0];
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    endless->cancel();
    const auto r = endless->wait_all();
    EXPECT_EQ(r.finished->finish_reason, "cancelled");
    auto prompt = iota_prompt(4, 9);
    EXPECT_EQ(text_of(scheduler.submit({job(prompt, 6)})[0]->wait_all()), expected_text(prompt, 6));
}

TEST(Scheduler, LaterRequestReusesTheCachedPrefix) {
    HashBackend backend(2, 512);
    Scheduler scheduler(backend, {});
    auto system = iota_prompt(40, 11);
    auto p1 = system, p2 = system;
    p1.push_back(5);
    p2.push_back(6);
    p2.push_back(7);
    EXPECT_EQ(text_of(scheduler.submit({job(p1, 8)})[0]->wait_all()), expected_text(p1, 8));
    auto r2 = scheduler.submit({job(p2, 8)})[0]->wait_all();
    EXPECT_EQ(text_of(r2), expected_text(p2, 8));
    EXPECT_EQ(r2.finished->cached_prompt_tokens, 40);
    // The same prompt again: everything but the last token comes from the cache.
    auto r3 = scheduler.submit({job(p2, 8)})[0]->wait_all();
    EXPECT_EQ(text_of(r3), expected_text(p2, 8));
    EXPECT_EQ(r3.finished->cached_prompt_tokens, int(p2.size()) - 1);
}

TEST(Scheduler, PrefixIsCopiedFromARunningSequence) {
    HashBackend backend(2, 1024, /*delay_ms=*/1);
    Scheduler scheduler(backend, {});
    auto system = iota_prompt(48, 2);
    auto p1 = system, p2 = system;
    p1.push_back(3);
    p2.push_back(4);
    auto first = scheduler.submit({job(p1, 100)})[0];
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    auto r2 = scheduler.submit({job(p2, 10)})[0]->wait_all();
    EXPECT_EQ(text_of(r2), expected_text(p2, 10));
    EXPECT_EQ(r2.finished->cached_prompt_tokens, 48);
    EXPECT_EQ(backend.copies.load(), 1);
    EXPECT_EQ(text_of(first->wait_all()), expected_text(p1, 100));
}

TEST(Scheduler, StopStringEndsGenerationAndIsNeverSent) {
    HashBackend backend(1, 512);
    Scheduler scheduler(backend, {});
    auto prompt = iota_prompt(6, 4);
    const std::string full = expected_text(prompt, 30);
    const std::string stop = full.substr(10, 2);
    const size_t cut = full.find(stop);
    auto j = job(prompt, 30);
    j.stop = {stop};
    auto r = scheduler.submit({j})[0]->wait_all();
    EXPECT_EQ(text_of(r), full.substr(0, cut));
    EXPECT_EQ(r.finished->finish_reason, "stop");
}

TEST(Scheduler, EndOfGenerationTokenStops) {
    HashBackend backend(1, 512);
    Scheduler scheduler(backend, {});
    auto j = job(iota_prompt(3, 1), 30);
    j.sampling.logit_bias = {{kEnd, 100.0f}};  // the end id wins at once
    auto r = scheduler.submit({j})[0]->wait_all();
    EXPECT_EQ(text_of(r), "");
    EXPECT_EQ(r.finished->finish_reason, "stop");
    EXPECT_EQ(r.finished->completion_tokens, 0);
}

TEST(Scheduler, FullContextEndsWithLength) {
    HashBackend backend(1, 16);
    Scheduler scheduler(backend, {});
    auto prompt = iota_prompt(10, 1);
    auto r = scheduler.submit({job(prompt, 0)})[0]->wait_all();
    EXPECT_EQ(r.finished->finish_reason, "length");
    EXPECT_EQ(text_of(r), expected_text(prompt, 7));  // 10 + 6 fed = 16 positions, 7 sampled
}

TEST(Scheduler, SeveralChoicesOfOneRequestRunTogether) {
    HashBackend backend(3, 256, /*delay_ms=*/1);
    Scheduler scheduler(backend, {});
    auto prompt = iota_prompt(5, 2);
    auto streams = scheduler.submit({job(prompt, 10), job(prompt, 10), job(prompt, 10)});
    for (auto& s : streams) EXPECT_EQ(text_of(s->wait_all()), expected_text(prompt, 10));
}

TEST(Scheduler, ShutdownFinishesInFlightWorkWithinGraceThenRefuses) {
    HashBackend backend(2, 512, /*delay_ms=*/1);
    Scheduler scheduler(backend, {});
    auto prompt = iota_prompt(5, 2);
    auto s = scheduler.submit({job(prompt, 20)})[0];
    scheduler.shutdown(std::chrono::milliseconds(5000));
    auto r = s->wait_all();
    EXPECT_EQ(r.finished->finish_reason, "length");
    EXPECT_EQ(text_of(r), expected_text(prompt, 20));
    try {
        scheduler.submit({job(prompt, 1)});
        FAIL() << "expected a 503";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 503);
    }
}

TEST(Scheduler, ShutdownCancelsWhatTheGraceTimeDoesNotCover) {
    HashBackend backend(1, 100000, /*delay_ms=*/1);
    Scheduler scheduler(backend, {});
    auto endless = scheduler.submit({job(iota_prompt(3, 1), 0)})[0];
    auto queued = scheduler.submit({job(iota_prompt(3, 2), 5)})[0];
    scheduler.shutdown(std::chrono::milliseconds(50));
    EXPECT_EQ(endless->wait_all().finished->finish_reason, "cancelled");
    EXPECT_EQ(queued->wait_all().finished->finish_reason, "cancelled");
}

}  // namespace
}  // namespace slm::server

namespace slm::server {
namespace {

AdapterSet adapter(int id, float scale) {
    std::vector<float> scales(size_t(id + 1), 0.0f);
    scales[size_t(id)] = scale;
    return AdapterSet::from_scales(scales);
}

TEST(AdapterSet, ZeroScalesLeaveTheBaseModel) {
    const std::vector<float> none = {0.0f, -0.0f};
    EXPECT_TRUE(AdapterSet::from_scales(none).empty());
    EXPECT_EQ(AdapterSet::from_scales(std::vector<float>{0.0f, 0.5f}), adapter(1, 0.5f));
    EXPECT_FALSE(adapter(1, 0.5f) == adapter(1, 1.0f));
}

TEST(Scheduler, JobsWithDifferentAdaptersRunInSeparateForwardsAndStayCorrect) {
    HashBackend backend(4, 256, /*delay_ms=*/2);
    Scheduler scheduler(backend, {});
    const std::vector<AdapterSet> sets = {AdapterSet(), adapter(0, 1.0f), AdapterSet(), adapter(0, 1.0f)};
    std::vector<GenerationJob> jobs;
    for (size_t i = 0; i < sets.size(); ++i) {
        jobs.push_back(job(iota_prompt(6, int(i) * 5), 20));
        jobs.back().adapters = sets[i];
    }
    auto streams = scheduler.submit(jobs);
    for (size_t i = 0; i < streams.size(); ++i) {
        auto u = streams[i]->wait_all();
        EXPECT_EQ(text_of(u), expected_text(jobs[i].prompt, 20, adapter_tag(sets[i]))) << "job " << i;
    }
    const auto stats = scheduler.stats();
    EXPECT_GT(stats.adapter_split_steps, 0);
    // The two jobs of each set still shared their forwards.
    EXPECT_EQ(stats.max_sequences_in_forward, 2);
    std::lock_guard lock(backend.mutex);
    EXPECT_TRUE(std::count(backend.forward_tags.begin(), backend.forward_tags.end(), 0) > 0);
    EXPECT_TRUE(std::count(backend.forward_tags.begin(), backend.forward_tags.end(), adapter_tag(sets[1])) > 0);
}

TEST(Scheduler, OneAdapterSetStaysOneForwardPerStep) {
    HashBackend backend(4, 256, /*delay_ms=*/2);
    Scheduler scheduler(backend, {});
    std::vector<GenerationJob> jobs;
    for (int i = 0; i < 3; ++i) {
        jobs.push_back(job(iota_prompt(5, i * 7), 12));
        jobs.back().adapters = adapter(0, 0.5f);
    }
    auto streams = scheduler.submit(jobs);
    for (size_t i = 0; i < streams.size(); ++i)
        EXPECT_EQ(text_of(streams[i]->wait_all()), expected_text(jobs[i].prompt, 12, adapter_tag(adapter(0, 0.5f))));
    EXPECT_EQ(scheduler.stats().adapter_split_steps, 0);
}

TEST(Scheduler, KeptCacheIsReusedOnlyUnderTheSameAdapters) {
    HashBackend backend(1, 256);
    Scheduler scheduler(backend, {});
    const auto prompt = iota_prompt(30, 3);
    auto run = [&](const AdapterSet& set) {
        GenerationJob j = job(prompt, 8);
        j.adapters = set;
        return text_of(scheduler.submit({j})[0]->wait_all());
    };
    EXPECT_EQ(run(AdapterSet()), expected_text(prompt, 8, 0));
    const int64_t reused_before = scheduler.stats().reused_prompt_tokens;
    // Same prompt, same (only) slot, other adapters: nothing of the kept cache may be used.
    EXPECT_EQ(run(adapter(0, 1.0f)), expected_text(prompt, 8, adapter_tag(adapter(0, 1.0f))));
    EXPECT_EQ(scheduler.stats().reused_prompt_tokens, reused_before);
    // Again under the same adapters: the prompt comes from the cache.
    EXPECT_EQ(run(adapter(0, 1.0f)), expected_text(prompt, 8, adapter_tag(adapter(0, 1.0f))));
    EXPECT_EQ(scheduler.stats().reused_prompt_tokens, reused_before + int64_t(prompt.size()) - 1);
}

TEST(Scheduler, PrefixIsNotCopiedFromARunningSequenceOnOtherAdapters) {
    HashBackend backend(2, 512, /*delay_ms=*/2);
    Scheduler scheduler(backend, {});
    const auto prompt = iota_prompt(40, 1);
    GenerationJob first = job(prompt, 60);
    auto s1 = scheduler.submit({first});
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the first is decoding
    GenerationJob second = job(prompt, 10);
    second.adapters = adapter(0, 1.0f);
    auto s2 = scheduler.submit({second});
    EXPECT_EQ(text_of(s2[0]->wait_all()), expected_text(prompt, 10, adapter_tag(second.adapters)));
    EXPECT_EQ(text_of(s1[0]->wait_all()), expected_text(prompt, 60, 0));
    EXPECT_EQ(backend.copies.load(), 0);
}

}  // namespace
}  // namespace slm::server
