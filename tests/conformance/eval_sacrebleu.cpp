// BLEU and chrF against sacrebleu 2.6.0's own numbers (tests/fixtures/eval/bleu.json, chrf.json):
// every case of the data files, corpus and sentence level, all tokenizers and smoothing methods.
#include <slm/eval/bleu.h>
#include <slm/eval/chrf.h>

#include <fmt/format.h>

#include "conformance/eval_fixture.h"

namespace {

using nlohmann::json;
using slm::test::kEvalTolerance;

struct Corpus {
    std::vector<std::string> hyps;
    std::vector<std::vector<std::string>> refs;
};

// The case's segments, chosen by index from the file's streams.
Corpus select(const json& file, const json& c) {
    Corpus out;
    auto all_hyps = slm::test::string_list(file["hyps"]);
    int nrefs = c["nrefs"].get<int>();
    out.refs.resize(static_cast<size_t>(nrefs));
    for (int i : c["indices"].get<std::vector<int>>()) {
        out.hyps.push_back(all_hyps.at(static_cast<size_t>(i)));
        for (int k = 0; k < nrefs; ++k) out.refs[static_cast<size_t>(k)].push_back(file["refs"][k][i].get<std::string>());
    }
    return out;
}

std::string describe(const json& c) {
    json brief = c;
    brief.erase("expected");
    return brief.dump();
}

TEST(EvalConformance, BleuMatchesSacrebleu) {
    json file = slm::test::load_eval_fixture("bleu.json");
    ASSERT_EQ(file["version"].get<std::string>(), std::string(slm::eval::kSacrebleuVersion));
    size_t checked = 0;
    for (const json& c : file["cases"]) {
        SCOPED_TRACE(describe(c));
        slm::eval::BleuOptions options;
        options.tokenizer = slm::eval::parse_bleu_tokenizer(c["tokenize"].get<std::string>());
        options.lowercase = c["lowercase"].get<bool>();
        options.smoothing = slm::eval::parse_bleu_smoothing(c["smooth_method"].get<std::string>());
        if (!c["smooth_value"].is_null()) options.smooth_value = c["smooth_value"].get<double>();
        options.effective_order = c["effective_order"].get<bool>();
        Corpus corpus = select(file, c);
        auto got = c["kind"] == "sentence" ? [&] {
            std::vector<std::string> refs;
            for (auto& stream : corpus.refs) refs.push_back(stream[0]);
            return slm::eval::sentence_bleu(corpus.hyps[0], refs, options);
        }()
                                           : slm::eval::corpus_bleu(corpus.hyps, corpus.refs, options);
        const json& want = c["expected"];
        EXPECT_NEAR(got.score, want["score"].get<double>(), kEvalTolerance);
        EXPECT_NEAR(got.bp, want["bp"].get<double>(), kEvalTolerance);
        EXPECT_EQ(got.sys_len, want["sys_len"].get<int64_t>());
        EXPECT_EQ(got.ref_len, want["ref_len"].get<int64_t>());
        EXPECT_EQ(got.signature, want["signature"].get<std::string>());
        for (size_t n = 0; n < 4; ++n) {
            EXPECT_NEAR(got.precisions.at(n), want["precisions"][n].get<double>(), kEvalTolerance) << "order " << n + 1;
            EXPECT_DOUBLE_EQ(got.counts.at(n), want["counts"][n].get<double>()) << "order " << n + 1;
            EXPECT_DOUBLE_EQ(got.totals.at(n), want["totals"][n].get<double>()) << "order " << n + 1;
        }
        ++checked;
    }
    EXPECT_GT(checked, 200u);
}

TEST(EvalConformance, ChrfMatchesSacrebleu) {
    json file = slm::test::load_eval_fixture("chrf.json");
    size_t checked = 0;
    for (const json& c : file["cases"]) {
        SCOPED_TRACE(describe(c));
        slm::eval::ChrfOptions options;
        options.char_order = c["char_order"].get<int>();
        options.word_order = c["word_order"].get<int>();
        options.beta = c["beta"].get<int>();
        options.lowercase = c["lowercase"].get<bool>();
        options.whitespace = c["whitespace"].get<bool>();
        options.eps_smoothing = c["eps_smoothing"].get<bool>();
        Corpus corpus = select(file, c);
        auto got = slm::eval::corpus_chrf(corpus.hyps, corpus.refs, options);
        EXPECT_NEAR(got.score, c["expected"]["score"].get<double>(), kEvalTolerance);
        if (c["expected"].contains("signature")) {
            EXPECT_EQ(got.signature, c["expected"]["signature"].get<std::string>());
        }
        ++checked;
    }
    EXPECT_GT(checked, 70u);
}

}  // namespace
