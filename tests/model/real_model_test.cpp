// The real models of ../shared/models: greedy continuations from the HF directory equal
// transformers' float32 ones (reference_greedy.json there, and the fixture script's more prompts),
// last-position logits match, and the shipped q8_0 GGUF files generate close to them.
#include "model/fixture_models.h"
#include "testing/testing.h"

#include <slm/sampler.h>
#include <slm/session.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace slm::test {
namespace {

struct GreedyCase {
    std::vector<int32_t> prompt, expected;
    std::vector<int32_t> top_ids;     // transformers' top ids at the last prompt position
    std::vector<float> top_logits;    // and their logits (fixture references only)
};

std::vector<GreedyCase> greedy_cases(const std::string& shared, const std::string& name) {
    std::vector<GreedyCase> cases;
    auto add = [&](const nlohmann::json& refs, const char* top_key) {
        for (const auto& r : refs) {
            GreedyCase c;
            c.prompt = r["prompt_ids"].get<std::vector<int32_t>>();
            c.expected = r["greedy_ids"].get<std::vector<int32_t>>();
            c.top_ids = r[top_key].get<std::vector<int32_t>>();
            if (r.contains("last_logits_top20")) c.top_logits = r["last_logits_top20"].get<std::vector<float>>();
            cases.push_back(std::move(c));
        }
    };
    add(read_json(shared + "/models/" + name + "/reference_greedy.json"), "last_logits_top5");
    add(read_json(fixtures_dir() + "/models/" + name + ".greedy.json"), "last_logits_top20_ids");
    return cases;
}

// Greedy decoding of `n` tokens after the prompt; also returns the last prompt position's logits.
std::vector<int32_t> greedy(Session& session, const std::vector<int32_t>& prompt, size_t n, std::vector<float>* first_logits) {
    std::span<const float> logits = session.prompt(prompt);
    if (first_logits) first_logits->assign(logits.begin(), logits.end());
    std::vector<int32_t> out;
    while (out.size() < n) {
        out.push_back(argmax(logits));
        if (out.size() < n) logits = session.decode(out.back());
    }
    return out;
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

class RealModel : public ::testing::TestWithParam<std::string> {};

TEST_P(RealModel, HfGreedyEqualsTransformersF32) {
    SLM_REQUIRE_SHARED(shared);
    const std::unique_ptr<Model> model = Model::load(shared + "/models/" + GetParam());
    SessionOptions opt;
    opt.kv_dtype = DType::f32;
    opt.threads = 1;
    Session session(*model, opt);
    size_t total_match = 0, total = 0;
    float worst_logit_error = 0;
    for (const GreedyCase& c : greedy_cases(shared, GetParam())) {
        std::vector<float> logits;
        const std::vector<int32_t> got = greedy(session, c.prompt, c.expected.size(), &logits);
        const size_t match = common_prefix(got, c.expected);
        total_match += match;
        total += c.expected.size();
        EXPECT_EQ(match, c.expected.size()) << "prompt of " << c.prompt.size() << " tokens";
        // Top logits: the weights are bf16 in the file, upcast exactly on both sides, so f32
        // summation order is the only difference (1e-4 of the scale, as for the fixtures).
        for (size_t i = 0; i < c.top_logits.size(); ++i) {
            const float err = std::abs(logits[size_t(c.top_ids[i])] - c.top_logits[i]) / std::abs(c.top_logits[0]);
            worst_logit_error = std::max(worst_logit_error, err);
            EXPECT_LE(err, 1e-4f) << "top logit " << i;
        }
        EXPECT_EQ(argmax(logits), c.top_ids[0]);
    }
    fmt::print("{}: HF f32 greedy matched {}/{} tokens; max rel error of top-20 logits {:.2e}\n", GetParam(), total_match,
               total, worst_logit_error);
}

TEST_P(RealModel, Q8_0GgufStaysCloseToTransformers) {
    SLM_REQUIRE_SHARED(shared);
    const std::unique_ptr<Model> model = Model::load(shared + "/models/" + GetParam() + "/" + GetParam() + "-q8_0.gguf");
    SessionOptions opt;
    opt.threads = 1;
    Session session(*model, opt);
    size_t total_match = 0, total = 0, first_token_match = 0;
    std::vector<size_t> lengths;
    const std::vector<GreedyCase> cases = greedy_cases(shared, GetParam());
    for (const GreedyCase& c : cases) {
        std::vector<float> logits;
        const std::vector<int32_t> got = greedy(session, c.prompt, c.expected.size(), &logits);
        const size_t match = common_prefix(got, c.expected);
        lengths.push_back(match);
        total_match += match;
        total += c.expected.size();
        first_token_match += match > 0;
        // 8-bit weights move logits by a little: the token chosen is always among transformers' top 5.
        EXPECT_NE(std::find(c.top_ids.begin(), c.top_ids.begin() + 5, got[0]), c.top_ids.begin() + 5);
    }
    // Most first tokens agree exactly, and most continuations for many tokens: 8-bit weights move
    // a near tie now and then, after which the texts part. Both GGUFs carry their config's rope
    // base (tinyqwen2's is slm convert's output since issue 22; the file llama.cpp b4748 made had
    // lost the 1e6 base and drifted after a few tokens, 53/1018).
    // Measured (AVX2 and AVX-512 machines): first tokens 16/16 for both; all tokens 711/1024
    // (tinyllama), 835/1018 (tinyqwen2).
    EXPECT_GE(total_match * 2, total);
    EXPECT_GE(first_token_match * 10, cases.size() * 8);
    fmt::print("{}: q8_0 GGUF greedy matched {}/{} tokens (per prompt: {})\n", GetParam(), total_match, total,
               fmt::join(lengths, " "));
}

// The CPU matmul's interleaved copies of the q8_0 matrices (ModelOptions::cpu_layouts) against the
// file's layout: a prompt of 16 tokens or more runs the same GEMM arithmetic through the layers
// either way; only the last position's logits (one token, through the tied table, which is
// interleaved too) sum in another order: row dots against the interleaved GEMM, last bits. Decode
// steps sum in another order everywhere. Those last-bit differences can flip the rounding of an
// activation to 8 bits in the next matmul (a step of amax/254), so over layers and steps they
// grow: tinyqwen2's logits differ by up to 0.6% of their largest after 12 steps (measured),
// tinyllama's far less; the greedy tokens stay the same except at near ties.
TEST_P(RealModel, CpuLayoutsKeepTheFileLayoutsValues) {
    SLM_REQUIRE_SHARED(shared);
    const std::string path = shared + "/models/" + GetParam() + "/" + GetParam() + "-q8_0.gguf";
    ModelOptions file_layout;
    file_layout.cpu_layouts = false;
    const std::unique_ptr<Model> fast = Model::load(path), plain = Model::load(path, file_layout);
    std::vector<int32_t> prompt;
    for (const GreedyCase& c : greedy_cases(shared, GetParam())) {
        prompt.insert(prompt.end(), c.prompt.begin(), c.prompt.end());
        if (prompt.size() >= 24) break;
    }
    ASSERT_GE(prompt.size(), 16u);
    SessionOptions opt;
    opt.threads = 2;
    Session a(*fast, opt), b(*plain, opt);
    // Largest |a - b| over the largest |b|.
    auto relative_diff = [](std::span<const float> a, std::span<const float> b) {
        float max_diff = 0, max_logit = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            max_diff = std::max(max_diff, std::fabs(a[i] - b[i]));
            max_logit = std::max(max_logit, std::fabs(b[i]));
        }
        return max_diff / max_logit;
    };
    const std::span<const float> la = a.prompt(prompt), lb = b.prompt(prompt);
    ASSERT_EQ(la.size(), lb.size());
    EXPECT_LE(relative_diff(la, lb), 1e-5f) << "prompt logits differ beyond f32 rounding";
    int32_t token = argmax(la);
    for (int step = 0; step < 12; ++step) {
        const std::span<const float> da = a.decode(token), db = b.decode(token);
        EXPECT_LE(relative_diff(da, db), 0.02f) << "step " << step;
        // The greedy tokens agree unless b's best two are closer than the two runs differ: then
        // a's choice must still be within twice that difference of b's best (measured on an
        // AVX-512 machine: tinyqwen2 step 6 has a near tie, which its last bits decide).
        float max_abs_diff = 0;
        for (size_t i = 0; i < da.size(); ++i) max_abs_diff = std::max(max_abs_diff, std::fabs(da[i] - db[i]));
        const int32_t ta = argmax(da), tb = argmax(db);
        if (ta != tb) {
            ASSERT_GE(db[size_t(ta)], db[size_t(tb)] - 2 * max_abs_diff)
                << "step " << step << ": tokens " << ta << " and " << tb << " differ by more than the logits do";
        }
        token = ta;
    }
}

INSTANTIATE_TEST_SUITE_P(Shared, RealModel, ::testing::Values("tinyllama-spm-13m", "tinyqwen2-bpe-11m"),
                         [](const auto& info) { return info.param == "tinyllama-spm-13m" ? std::string("tinyllama") : std::string("tinyqwen2"); });

}  // namespace
}  // namespace slm::test
