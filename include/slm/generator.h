// Generator: prompt tokens -> a stream of text pieces, from a Session, a Tokenizer and a
// SamplerChain. Stops on any end-of-generation id, on a stop string (streamed text never
// contains a part of one) or after max_tokens; reports prompt and generation speed.
#pragma once

#include <slm/sampler.h>
#include <slm/session.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slm {

class Tokenizer;

struct GenerationOptions {
    int max_tokens = 256;  // < 0: until the context is full
    std::vector<std::string> stop_strings;
    bool ignore_eos = false;
};

struct GenerationTimings {
    double load_ms = 0;  // filled by the caller that loaded the model
    double prompt_ms = 0, generation_ms = 0;
    int prompt_tokens = 0;      // processed (not reused from the cache)
    int reused_tokens = 0;      // prompt tokens found in the cache
    int generated_tokens = 0;
    double prompt_tokens_per_s() const { return prompt_ms > 0 ? prompt_tokens * 1000.0 / prompt_ms : 0; }
    double generated_tokens_per_s() const { return generation_ms > 0 ? generated_tokens * 1000.0 / generation_ms : 0; }
};

// Every id that ends generation for this model, each once: its config's end-of-sequence ids, its
// generation config's, and the tokenizer's (chat templates end turns with tokens of their own).
class Model;
std::vector<int32_t> end_of_generation_ids(const Model& model, const Tokenizer& tokenizer);

enum class StopReason { eos, stop_string, max_tokens, context_full };
std::string_view stop_reason_name(StopReason r);

struct GenerationResult {
    std::vector<int32_t> prompt_tokens;
    std::vector<int32_t> tokens;  // every sampled token, the final end-of-generation one included
    std::string text;             // generated text, up to (not including) a stop string or EOS
    StopReason stop_reason = StopReason::max_tokens;
    GenerationTimings timings;
};

class Generator {
public:
    // `eos_ids`: every id that ends generation (the config's and the tokenizer's).
    Generator(Session& session, const Tokenizer& tokenizer, std::vector<int32_t> eos_ids);

    // Generates after `prompt` in sequence 0; `on_text` (may be empty) receives text as soon as
    // it is final.
    GenerationResult generate(std::span<const int32_t> prompt, SamplerChain& sampler, const GenerationOptions& options,
                              const std::function<void(std::string_view)>& on_text = {});

private:
    Session& session_;
    const Tokenizer& tokenizer_;
    std::vector<int32_t> eos_ids_;
};

// Holds back streamed text that could be the start of a stop string; finds a whole one.
class StopStringFilter {
public:
    explicit StopStringFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}
    // Adds text; returns what may be shown now. After a stop string is found, stopped() is true
    // and nothing from the stop string on is ever returned.
    std::string push(std::string_view text);
    std::string flush();  // the held-back text at the end of generation (no stop string came)
    bool stopped() const { return stopped_; }

private:
    std::vector<std::string> stops_;
    std::string pending_;
    bool stopped_ = false;
};

}  // namespace slm
