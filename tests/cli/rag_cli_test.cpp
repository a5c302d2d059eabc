// `slm rag search|query --rerank` on a small KB of the tiny Qwen model (its own embedder and
// reranker): the JSON names the candidates scored and each passage's rerank_score, best first,
// without --rerank the score is null, and search --rerank without --model (or --model without
// --rerank) is one clear line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_slm.h"
#include "testing/testing.h"

namespace slm {
namespace {

using nlohmann::json;
using test::run_slm;
using ::testing::HasSubstr;

class CliRag : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string shared = test::shared_dir();
        if (shared.empty()) return;
        model_ = new std::string(shared + "/models/tinyqwen2-bpe-11m");
        kb_ = new std::string(test::temp_dir() + "/cli-rag/notes.kb");
        const std::string docs = test::temp_dir() + "/cli-rag/docs";
        std::filesystem::create_directories(docs);
        std::ofstream(docs + "/lighthouse.md") << "# The lighthouse\n\nThe keeper lights the lamp at dusk.\n";
        std::ofstream(docs + "/bakery.txt") << "The bakery opens at six and sells rye bread.\n";
        std::ofstream(docs + "/garden.md") << "# Garden\n\nTomatoes need sun; water them every morning.\n";
        const auto r = run_slm("rag index " + test::quoted(*kb_) + " " + test::quoted(docs) + " --embed " +
                               test::quoted(*model_) + " --threads 2 --no-progress");
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    static void TearDownTestSuite() {
        delete model_;
        delete kb_;
        model_ = kb_ = nullptr;
    }
    void SetUp() override {
        if (!model_) GTEST_SKIP() << "../shared (models and data) not found beside the repository";
    }
    static std::string* model_;
    static std::string* kb_;
};
std::string* CliRag::model_ = nullptr;
std::string* CliRag::kb_ = nullptr;

TEST_F(CliRag, SearchRerankShowsTheScoresBestFirst) {
    const auto r =
        run_slm("rag search " + test::quoted(*kb_) + " 'When does the keeper light the lamp?' --k 2 --rerank --model " +
                test::quoted(*model_) + " --threads 2 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json line = json::parse(r.out);
    EXPECT_EQ(line["rerank_candidates"], 20);
    const json& results = line["results"];
    ASSERT_EQ(results.size(), 2u) << line;
    ASSERT_TRUE(results[0]["rerank_score"].is_number()) << line;
    EXPECT_LT(results[0]["rerank_score"].get<double>(), 0.0);  // a mean log-probability
    EXPECT_GE(results[0]["rerank_score"].get<double>(), results[1]["rerank_score"].get<double>());

    const auto plain =
        run_slm("rag search " + test::quoted(*kb_) + " 'When does the keeper light the lamp?' --k 2 --json");
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    const json p = json::parse(plain.out);
    EXPECT_FALSE(p.contains("rerank_candidates"));
    EXPECT_TRUE(p["results"][0]["rerank_score"].is_null());

    const auto no_model = run_slm("rag search " + test::quoted(*kb_) + " 'lamp' --rerank 5");
    EXPECT_EQ(no_model.exit_code, 1);
    EXPECT_THAT(no_model.err, HasSubstr("--rerank: name the model that scores the passages with --model"));
    const auto no_rerank = run_slm("rag search " + test::quoted(*kb_) + " 'lamp' --model " + test::quoted(*model_));
    EXPECT_EQ(no_rerank.exit_code, 1);
    EXPECT_THAT(no_rerank.err, HasSubstr("the model only scores for --rerank"));
}

TEST_F(CliRag, QueryRerankKeepsKOfTheCandidates) {
    const auto r = run_slm("rag query " + test::quoted(*kb_) + " 'What does the bakery sell?' --model " +
                           test::quoted(*model_) + " --k 1 --rerank 3 -n 4 --threads 2 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json out = json::parse(r.out);
    EXPECT_EQ(out["rerank_candidates"], 3);
    ASSERT_EQ(out["retrieved"].size(), 1u) << out;
    EXPECT_TRUE(out["retrieved"][0]["rerank_score"].is_number()) << out;
}

}  // namespace
}  // namespace slm
