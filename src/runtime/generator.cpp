// Generator: the prompt through the session, then sample -> decode -> stream text until an
// end-of-generation id, a stop string, max_tokens or a full context; with timings. Samplers that
// read only the most likely tokens get only those (Session::decode_top).
#include <slm/error.h>
#include <slm/generator.h>
#include <slm/model.h>
#include <slm/tokenizer.h>

#include <algorithm>
#include <chrono>

namespace slm {

std::vector<int32_t> end_of_generation_ids(const Model& model, const Tokenizer& tokenizer) {
    std::vector<int32_t> ids;
    auto add = [&](int32_t id) {
        if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    };
    for (int id : model.config().eos_token_ids) add(id);
    for (int id : model.files().generation.eos_token_ids) add(id);
    for (int32_t id : tokenizer.eos_ids()) add(id);
    return ids;
}

std::string_view stop_reason_name(StopReason r) {
    switch (r) {
        case StopReason::eos: return "eos";
        case StopReason::stop_string: return "stop";
        case StopReason::max_tokens: return "length";
        case StopReason::context_full: return "context_full";
    }
    return "";
}

Generator::Generator(Session& session, const Tokenizer& tokenizer, std::vector<int32_t> eos_ids)
    : session_(session), tokenizer_(tokenizer), eos_ids_(std::move(eos_ids)) {}

GenerationResult Generator::generate(std::span<const int32_t> prompt, SamplerChain& sampler,
                                     const GenerationOptions& options,
                                     const std::function<void(std::string_view)>& on_text) {
    using Clock = std::chrono::steady_clock;
    auto ms_since = [](Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); };
    GenerationResult result;
    result.prompt_tokens.assign(prompt.begin(), prompt.end());

    // A sampler that reads only the most likely tokens gets only those: greedy decoding and
    // top-k sampling take a few ids and logits from a GPU instead of the vocabulary's logits.
    const int k = sampler.candidates_needed();
    const bool top = k > 0 && k <= kMaxTopTokens;
    std::span<const float> logits;
    const TopTokens* candidates = nullptr;
    auto next_token = [&] {
        if (!top) return sampler.sample(logits, session_.tokens());
        return sampler.sample_top(candidates->row_ids(0), candidates->row_logits(0), session_.tokens());
    };

    const auto t_prompt = Clock::now();
    if (top) candidates = &session_.prompt_top(prompt, k);
    else logits = session_.prompt(prompt);
    result.timings.prompt_ms = ms_since(t_prompt);
    result.timings.reused_tokens = session_.reused_tokens();
    result.timings.prompt_tokens = int(prompt.size()) - session_.reused_tokens();

    StreamingDecoder decoder(tokenizer_, /*skip_special=*/true);
    StopStringFilter stops(options.stop_strings);
    auto emit = [&](const std::string& text) {
        if (text.empty()) return;
        result.text += text;
        if (on_text) on_text(text);
    };

    const auto t_gen = Clock::now();
    const int max_tokens = options.max_tokens < 0 ? session_.n_ctx() : options.max_tokens;
    result.stop_reason = StopReason::max_tokens;
    while (int(result.tokens.size()) < max_tokens) {
        const int32_t token = next_token();
        result.tokens.push_back(token);
        if (!options.ignore_eos && std::find(eos_ids_.begin(), eos_ids_.end(), token) != eos_ids_.end()) {
            result.stop_reason = StopReason::eos;
            break;
        }
        emit(stops.push(decoder.push(token)));
        if (stops.stopped()) {
            result.stop_reason = StopReason::stop_string;
            break;
        }
        if (int(result.tokens.size()) >= max_tokens) break;
        if (int(session_.tokens().size()) >= session_.n_ctx()) {
            result.stop_reason = StopReason::context_full;
            break;
        }
        if (top) candidates = &session_.decode_top(token, k);
        else logits = session_.decode(token);
    }
    if (!stops.stopped()) emit(stops.push(decoder.flush()) + stops.flush());
    result.timings.generation_ms = ms_since(t_gen);
    result.timings.generated_tokens = int(result.tokens.size());
    return result;
}

}  // namespace slm
