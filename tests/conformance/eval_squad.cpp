// SQuAD v1.1 EM/F1 against the official evaluate-v1.1.py (tests/fixtures/eval/squad.json), and
// accuracy / macro-F1 against scikit-learn (classify.json).
#include <slm/eval/classify.h>
#include <slm/eval/squad.h>

#include "conformance/eval_fixture.h"

namespace {

using nlohmann::json;
using slm::test::kEvalTolerance;

TEST(EvalConformance, SquadAnswerScoresMatchOfficialScript) {
    json file = slm::test::load_eval_fixture("squad.json");
    for (const json& p : file["pairs"]) {
        const auto prediction = p["prediction"].get<std::string>();
        SCOPED_TRACE(prediction);
        EXPECT_EQ(slm::eval::squad_normalize_answer(prediction), p["normalized"].get<std::string>());
        auto got = slm::eval::squad_score(prediction, slm::test::string_list(p["ground_truths"]));
        EXPECT_NEAR(got.exact_match, p["exact_match"].get<double>(), kEvalTolerance);
        EXPECT_NEAR(got.f1, p["f1"].get<double>(), kEvalTolerance);
    }
}

TEST(EvalConformance, SquadDatasetTotalsMatchOfficialScript) {
    json file = slm::test::load_eval_fixture("squad.json");
    const json& small = file["small"];
    auto dataset = slm::eval::parse_squad_dataset(small["dataset"].dump(), "squad.json:small");
    auto predictions = small["predictions"].get<std::unordered_map<std::string, std::string>>();
    auto got = slm::eval::evaluate_squad(dataset, predictions);
    EXPECT_NEAR(got.exact_match, small["expected"]["exact_match"].get<double>(), kEvalTolerance);
    EXPECT_NEAR(got.f1, small["expected"]["f1"].get<double>(), kEvalTolerance);
    EXPECT_EQ(got.unanswered.size(), 1u);
}

// The whole dev set with the deterministic predictions make_eval_fixtures.py's squad_prediction makes.
TEST(EvalConformance, SquadDevSetMatchesOfficialScript) {
    SLM_REQUIRE_SHARED(shared);
    json file = slm::test::load_eval_fixture("squad.json");
    auto dataset = slm::eval::load_squad_dataset(shared + "/datasets/squad-v1.1/dev-v1.1.json");
    ASSERT_EQ(dataset.version, "1.1");
    std::unordered_map<std::string, std::string> predictions;
    for (size_t i = 0; i < dataset.questions.size(); ++i) {
        const auto& q = dataset.questions[i];
        if (i % 4 == 0) predictions[q.id] = q.answers.front();
        if (i % 4 == 1) predictions[q.id] = "The " + q.answers.back() + ".";
        if (i % 4 == 2) predictions[q.id] = q.question;
    }
    const json& want = file["dev_v11"];
    ASSERT_EQ(dataset.questions.size(), want["questions"].get<size_t>());
    ASSERT_EQ(predictions.size(), want["answered"].get<size_t>());
    auto got = slm::eval::evaluate_squad(dataset, predictions);
    EXPECT_NEAR(got.exact_match, want["expected"]["exact_match"].get<double>(), kEvalTolerance);
    EXPECT_NEAR(got.f1, want["expected"]["f1"].get<double>(), kEvalTolerance);
}

TEST(EvalConformance, ClassificationMatchesScikitLearn) {
    json file = slm::test::load_eval_fixture("classify.json");
    for (const json& c : file["cases"]) {
        auto got = slm::eval::classification_scores(slm::test::string_list(c["gold"]), slm::test::string_list(c["pred"]));
        EXPECT_NEAR(got.accuracy, c["expected"]["accuracy"].get<double>(), kEvalTolerance) << c.dump();
        EXPECT_NEAR(got.macro_f1, c["expected"]["macro_f1"].get<double>(), kEvalTolerance) << c.dump();
    }
}

}  // namespace
