// ROUGE against Google's rouge-score run on the same inputs (tests/fixtures/eval/rouge.json):
// single and multi-reference scores with and without stemming, seeded bootstrap intervals, and
// NLTK's Porter stemmer word by word.
#include <slm/eval/rouge.h>

#include "conformance/eval_fixture.h"

namespace {

using nlohmann::json;
using slm::test::kEvalTolerance;

void expect_score(const slm::eval::RougeScore& got, const json& want, const std::string& what) {
    EXPECT_NEAR(got.precision, want["precision"].get<double>(), kEvalTolerance) << what;
    EXPECT_NEAR(got.recall, want["recall"].get<double>(), kEvalTolerance) << what;
    EXPECT_NEAR(got.fmeasure, want["fmeasure"].get<double>(), kEvalTolerance) << what;
}

TEST(EvalConformance, RougeMatchesRougeScore) {
    json file = slm::test::load_eval_fixture("rouge.json");
    size_t checked = 0;
    for (const json& c : file["cases"]) {
        SCOPED_TRACE(c["prediction"].get<std::string>().substr(0, 80));
        slm::eval::RougeScorer scorer(slm::test::string_list(c["types"]), c["stemmer"].get<bool>());
        auto targets = slm::test::string_list(c["targets"]);
        auto got = c["kind"] == "multi" ? scorer.score_multi(targets, c["prediction"].get<std::string>())
                                        : scorer.score(targets.at(0), c["prediction"].get<std::string>());
        for (auto& [type, want] : c["expected"].items()) expect_score(got.at(type), want, type);
        ++checked;
    }
    EXPECT_GT(checked, 100u);
}

TEST(EvalConformance, RougeBootstrapMatchesSeededRougeScore) {
    json file = slm::test::load_eval_fixture("rouge.json");
    for (const json& c : file["bootstrap"]) {
        auto types = slm::test::string_list(c["types"]);
        slm::eval::RougeScorer scorer(types, c["stemmer"].get<bool>());
        auto targets = slm::test::string_list(c["targets"]);
        auto predictions = slm::test::string_list(c["predictions"]);
        std::vector<slm::eval::RougeScores> scores;
        for (size_t i = 0; i < predictions.size(); ++i) scores.push_back(scorer.score(targets[i], predictions[i]));
        auto got = slm::eval::bootstrap_aggregate(scores, types, c["n_samples"].get<int>(),
                                                  c["confidence_interval"].get<double>(), c["seed"].get<uint32_t>());
        for (auto& [type, want] : c["expected"].items()) {
            expect_score(got.at(type).low, want["low"], type + " low");
            expect_score(got.at(type).mid, want["mid"], type + " mid");
            expect_score(got.at(type).high, want["high"], type + " high");
        }
    }
}

TEST(EvalConformance, PorterStemmerMatchesNltk) {
    json file = slm::test::load_eval_fixture("rouge.json");
    for (auto& [word, stem] : file["porter"].items()) EXPECT_EQ(slm::eval::porter_stem(word), stem.get<std::string>()) << word;
}

}  // namespace
