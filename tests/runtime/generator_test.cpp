// Generator on a real model: greedy text equals transformers' reference, EOS and max_tokens stop
// it, streamed pieces add up to the text, and a stop string is never streamed, not even in part.
#include "testing/testing.h"

#include <slm/file_io.h>
#include <slm/generator.h>
#include <slm/tokenizer.h>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace slm::test {
namespace {

struct Loaded {
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    nlohmann::json refs;
};

Loaded load(const std::string& shared, const std::string& name) {
    const std::string dir = shared + "/models/" + name;
    return {Model::load(dir), Tokenizer::from_model_path(dir),
            nlohmann::json::parse(read_text_file(dir + "/reference_greedy.json"))};
}

// One thread: the test machine is shared by many builds, where a pool's wake-ups cost most.
SessionOptions single_thread() {
    SessionOptions o;
    o.threads = 1;
    return o;
}

SamplerParams greedy_params() {
    SamplerParams p;
    p.temperature = 0;
    return p;
}

TEST(Generator, GreedyTextEqualsTransformers) {
    SLM_REQUIRE_SHARED(shared);
    for (const std::string name : {"tinyllama-spm-13m", "tinyqwen2-bpe-11m"}) {
        Loaded m = load(shared, name);
        SessionOptions opt;
        opt.kv_dtype = DType::f32;
        opt.threads = 1;
        Session session(*m.model, opt);
        Generator gen(session, *m.tokenizer, m.tokenizer->eos_ids());
        for (const auto& r : m.refs) {
            const std::vector<int32_t> prompt = m.tokenizer->encode(r["prompt"].get<std::string>());
            ASSERT_EQ(prompt, r["prompt_ids"].get<std::vector<int32_t>>()) << name;
            std::vector<int32_t> expected = r["greedy_ids"].get<std::vector<int32_t>>();
            SamplerChain sampler(greedy_params());
            GenerationOptions go;
            go.max_tokens = int(expected.size());
            std::string streamed;
            const GenerationResult res = gen.generate(prompt, sampler, go, [&](std::string_view s) { streamed += s; });
            // transformers' reference did not stop at EOS; ours does, so compare up to it.
            const std::vector<int32_t> eos_ids = m.tokenizer->eos_ids();
            const auto eos = std::find_first_of(expected.begin(), expected.end(), eos_ids.begin(), eos_ids.end());
            if (eos != expected.end()) {
                expected.erase(eos + 1, expected.end());
                EXPECT_EQ(res.stop_reason, StopReason::eos);
            } else {
                EXPECT_EQ(res.stop_reason, StopReason::max_tokens);
                EXPECT_EQ(res.text, r["greedy_text"].get<std::string>()) << name;
            }
            EXPECT_EQ(res.tokens, expected) << name << ": " << r["prompt"];
            EXPECT_EQ(streamed, res.text);
            EXPECT_EQ(res.timings.generated_tokens, int(res.tokens.size()));
        }
    }
}

TEST(Generator, StopStringIsNeverStreamed) {
    SLM_REQUIRE_SHARED(shared);
    Loaded m = load(shared, "tinyllama-spm-13m");
    Session session(*m.model, single_thread());
    Generator gen(session, *m.tokenizer, m.tokenizer->eos_ids());
    const auto& r = m.refs[0];
    const std::string full = r["greedy_text"].get<std::string>();  // ", you are not to be able to do anything?..."
    const std::vector<int32_t> prompt = r["prompt_ids"].get<std::vector<int32_t>>();
    SamplerChain sampler(greedy_params());
    GenerationOptions go;
    go.max_tokens = 64;
    go.stop_strings = {"able to"};
    std::string streamed;
    const GenerationResult res = gen.generate(prompt, sampler, go, [&](std::string_view s) { streamed += s; });
    EXPECT_EQ(res.stop_reason, StopReason::stop_string);
    EXPECT_EQ(res.text, full.substr(0, full.find("able to")));
    EXPECT_EQ(streamed, res.text);
}

TEST(Generator, SeededSamplingIsReproducible) {
    SLM_REQUIRE_SHARED(shared);
    Loaded m = load(shared, "tinyqwen2-bpe-11m");
    Session session(*m.model, single_thread());
    Generator gen(session, *m.tokenizer, m.tokenizer->eos_ids());
    const std::vector<int32_t> prompt = m.tokenizer->encode("The history of");
    SamplerParams p = SamplerParams::from_generation_defaults(m.model->files().generation);
    p.seed = 1;
    GenerationOptions go;
    go.max_tokens = 24;
    SamplerChain a(p), b(p);
    const GenerationResult ra = gen.generate(prompt, a, go);
    const GenerationResult rb = gen.generate(prompt, b, go);  // the prompt comes from the cache this time
    EXPECT_EQ(ra.tokens, rb.tokens);
    EXPECT_EQ(ra.text, rb.text);
    EXPECT_EQ(rb.timings.reused_tokens, int(prompt.size()) - 1);
}

// The ids that end generation: the config's, the generation config's and the tokenizer's, each
// once (the Qwen2 model names id 0 in all three), in that order.
TEST(Generator, EndOfGenerationIdsGatherEverySourceOnce) {
    SLM_REQUIRE_SHARED(shared);
    for (const char* name : {"tinyqwen2-bpe-11m", "tinyllama-spm-13m"}) {
        SCOPED_TRACE(name);
        Loaded m = load(shared, name);
        const std::vector<int32_t> ids = end_of_generation_ids(*m.model, *m.tokenizer);
        ASSERT_FALSE(ids.empty());
        std::vector<int32_t> sorted = ids;
        std::sort(sorted.begin(), sorted.end());
        EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "an id twice";
        for (const int id : m.model->config().eos_token_ids) EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end());
        for (const int id : m.model->files().generation.eos_token_ids)
            EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end());
        for (const int32_t id : m.tokenizer->eos_ids()) EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end());
        if (!m.model->config().eos_token_ids.empty()) {
            EXPECT_EQ(ids.front(), m.model->config().eos_token_ids.front());
        }
    }
}

}  // namespace
}  // namespace slm::test
