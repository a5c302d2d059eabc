// `slm eval`: the metric verbs on line files and JSONL reproduce the reference numbers of
// tests/fixtures/eval (sacrebleu, rouge-score, the official SQuAD script), print the JSON keys the
// reference tools use, and reject bad input with a one-line error and exit code 1 (usage: 2).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <slm/file_io.h>

#include <nlohmann/json.hpp>

#include "cli/run_slm.h"
#include "testing/testing.h"

namespace slm {
namespace {

using nlohmann::json;
using test::run_slm;
using ::testing::HasSubstr;

std::string q(const std::string& path) { return test::quoted(path); }

json fixture(const std::string& name) { return json::parse(read_text_file(test::fixtures_dir() + "/eval/" + name)); }

std::string write_lines(const std::string& name, const json& lines) {
    std::string text;
    for (const auto& l : lines) text += l.get<std::string>() + "\n";
    const std::string path = test::temp_dir() + "/" + name;
    write_file_atomic(path, text);
    return path;
}

struct Files {
    std::string hyps, ref0, ref1;
};

Files fixture_files() {
    json bleu = fixture("bleu.json");
    return {write_lines("hyps.txt", bleu["hyps"]), write_lines("ref0.txt", bleu["refs"][0]),
            write_lines("ref1.txt", bleu["refs"][1])};
}

json run_json(const std::string& args) {
    auto r = run_slm(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
}

TEST(CliEval, BleuEqualsSacrebleuOnFiles) {
    Files f = fixture_files();
    for (const json& c : fixture("bleu.json")["cases"]) {
        if (c["kind"] != "corpus" || c["indices"].size() < 10) continue;
        std::string args = "eval bleu --json --hyps " + q(f.hyps) + " --refs " + q(f.ref0);
        if (c["nrefs"] == 2) args += " " + q(f.ref1);
        args += " --tokenize " + c["tokenize"].get<std::string>();
        if (c["lowercase"].get<bool>()) args += " --lowercase";
        SCOPED_TRACE(args);
        json got = run_json(args)["bleu"];
        EXPECT_NEAR(got["score"].get<double>(), c["expected"]["score"].get<double>(), 1e-9);
        EXPECT_EQ(got["signature"], c["expected"]["signature"]);
        EXPECT_EQ(got["sys_len"], c["expected"]["sys_len"]);
        EXPECT_EQ(got["ref_len"], c["expected"]["ref_len"]);
        EXPECT_EQ(got["precisions"].size(), 4u);
        EXPECT_TRUE(got.contains("bp"));
    }
}

TEST(CliEval, ChrfPlusPlusEqualsSacrebleuOnFiles) {
    Files f = fixture_files();
    for (const json& c : fixture("chrf.json")["cases"]) {
        if (c["kind"] != "corpus" || c["lowercase"].get<bool>() || c["whitespace"].get<bool>() ||
            c["eps_smoothing"].get<bool>() || c["nrefs"] != 2)
            continue;
        json got = run_json("eval chrf --json --hyps " + q(f.hyps) + " --refs " + q(f.ref0) + " " +
                            q(f.ref1) + " --word-order " + std::to_string(c["word_order"].get<int>()));
        EXPECT_NEAR(got["chrf"]["score"].get<double>(), c["expected"]["score"].get<double>(), 1e-9);
    }
}

TEST(CliEval, RougeBootstrapEqualsRougeScore) {
    const json file = fixture("rouge.json");
    const json& boot = file["bootstrap"][0];  // seed 42, 1000 samples, no stemmer
    const std::string hyps = write_lines("rouge-hyps.txt", boot["predictions"]);
    const std::string refs = write_lines("rouge-refs.txt", boot["targets"]);
    // Segments with a newline inside cannot be lines; the fixture's predictions have none.
    json got = run_json("eval rouge --json --bootstrap 1000 --seed 42 --rouge-types rouge1 rouge2 rouge3 rougeL rougeLsum"
                        " --hyps " + q(hyps) + " --refs " + q(refs));
    for (const char* type : {"rouge1", "rouge2", "rougeL"})
        for (const char* bound : {"low", "mid", "high"})
            EXPECT_NEAR(got[type][bound]["fmeasure"].get<double>(), boot["expected"][type][bound]["fmeasure"].get<double>(),
                        1e-9)
                << type << " " << bound;
}

TEST(CliEval, SquadOfficialFormEqualsOfficialScript) {
    const json file = fixture("squad.json");
    const json& small = file["small"];
    const std::string data = test::temp_dir() + "/squad-data.json", preds = test::temp_dir() + "/squad-preds.json";
    write_file_atomic(data, small["dataset"].dump());
    write_file_atomic(preds, small["predictions"].dump());
    auto r = run_slm("eval squad --data " + q(data) + " --predictions " + q(preds));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json got = json::parse(r.out);
    EXPECT_NEAR(got["exact_match"].get<double>(), small["expected"]["exact_match"].get<double>(), 1e-9);
    EXPECT_NEAR(got["f1"].get<double>(), small["expected"]["f1"].get<double>(), 1e-9);
    EXPECT_THAT(r.err, HasSubstr("Unanswered question q3 will receive score 0."));
}

TEST(CliEval, JsonlInputWithReferenceLists) {
    const std::string path = test::temp_dir() + "/pairs.jsonl";
    write_file_atomic(path, R"({"hyp": "The cat sat on the mat.", "refs": ["The cat sat on the mat.", "A cat."]})"
                            "\n"
                            R"({"hyp": "pos", "refs": ["neg", "pos"]})"
                            "\n");
    json bleu = run_json("eval bleu --json --jsonl " + q(path));
    EXPECT_THAT(bleu["bleu"]["signature"].get<std::string>(), HasSubstr("nrefs:2|"));
    json squad = run_json("eval squad --json --jsonl " + q(path));
    EXPECT_DOUBLE_EQ(squad["exact_match"].get<double>(), 100.0);
}

TEST(CliEval, ClassifyPrintsAccuracyAndMacroF1) {
    const json file = fixture("classify.json");
    const json& c = file["cases"][0];
    json got = run_json("eval classify --json --hyps " + q(write_lines("pred.txt", c["pred"])) + " --refs " +
                        q(write_lines("gold.txt", c["gold"])));
    EXPECT_NEAR(got["accuracy"].get<double>(), c["expected"]["accuracy"].get<double>(), 1e-12);
    EXPECT_NEAR(got["macro_f1"].get<double>(), c["expected"]["macro_f1"].get<double>(), 1e-12);
}

TEST(CliEval, BadInputIsAOneLineErrorWithExitCode1) {
    Files f = fixture_files();
    const std::string short_refs = test::temp_dir() + "/short.txt";
    write_file_atomic(short_refs, "one line\n");
    auto r = run_slm("eval bleu --hyps " + q(f.hyps) + " --refs " + q(short_refs));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("short.txt has 1 lines"));
    r = run_slm("eval bleu --hyps " + q(f.hyps) + " --refs " + q(f.ref0) + " --tokenize klingon");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("unknown BLEU tokenizer 'klingon'"));
    r = run_slm("eval rouge --hyps " + q(f.hyps) + " --refs " + q(f.ref0) + " --rouge-types rougeX");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("invalid rouge type 'rougeX'"));
    r = run_slm("eval squad --data " + q(f.hyps) + " --predictions " + q(f.hyps));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("not valid JSON"));
    r = run_slm("eval bleu --hyps " + q(test::temp_dir() + "/missing.txt") + " --refs " + q(f.ref0));
    EXPECT_EQ(r.exit_code, 1);
    r = run_slm("eval bleu --smooth-value notanumber");
    EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace slm
