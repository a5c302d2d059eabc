// Model names in every verb's MODEL argument, against the fake Hub of tests/hub serving the
// shared tiny Qwen2 as slm-test/tinyqwen2-bpe-11m: `slm info NAME` pulls then reads the cache,
// --no-pull and offline refuse with a clear error, an existing path wins over a name, --lora stays
// a path; and the installed-tool conventions: --version names the commit, `slm completion bash`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/run_slm.h"
#include "hub/fake_hub.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace slm {
namespace {

using nlohmann::json;
using test::quoted;
using test::run_slm;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr const char* kName = "slm-test/tinyqwen2-bpe-11m";

// A fake Hub serving the shared model, and HF_ENDPOINT / HF_HUB_CACHE pointing the slm child
// processes at it and at a fresh cache.
class ModelNames : public ::testing::Test {
protected:
    void SetUp() override {
        shared_ = test::shared_dir();
        if (shared_.empty()) GTEST_SKIP() << "../shared (models and data) not found beside the repository";
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = test::temp_dir() + "/model-names-" + info->name();
        fs::remove_all(dir_);
        fs::create_directories(dir_ + "/hub/slm-test");
        fs::create_symlink(shared_ + "/models/tinyqwen2-bpe-11m", dir_ + "/hub/" + kName);
        hub_ = std::make_unique<test::FakeHub>();
        hub_->add_dir(dir_ + "/hub");
        cache_ = dir_ + "/cache";
        setenv("HF_ENDPOINT", hub_->endpoint().c_str(), 1);
        setenv("HF_HUB_CACHE", cache_.c_str(), 1);
        setenv("SLM_HUB_TIMEOUT", "5", 1);
        unsetenv("HF_HUB_OFFLINE");
        unsetenv("HF_TOKEN");
    }
    void TearDown() override {
        for (const char* v : {"HF_ENDPOINT", "HF_HUB_CACHE", "SLM_HUB_TIMEOUT", "HF_HUB_OFFLINE"}) unsetenv(v);
    }
    std::string snapshot_prefix() const { return cache_ + "/models--slm-test--tinyqwen2-bpe-11m/snapshots/"; }
    int config_gets() const { return hub_->gets(kName, "config.json"); }

    std::string shared_, dir_, cache_;
    std::unique_ptr<test::FakeHub> hub_;
};

TEST_F(ModelNames, InfoPullsAMissingModelThenReadsItFromTheCache) {
    auto r = run_slm(std::string("info --json ") + kName);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json info = json::parse(r.out);  // stdout holds only the JSON; the pull spoke on stderr
    EXPECT_EQ(info["architecture"], "qwen2");
    EXPECT_THAT(info["path"].get<std::string>(), StartsWith(snapshot_prefix()));
    EXPECT_THAT(r.err, HasSubstr("pulling it from " + hub_->endpoint()));
    EXPECT_EQ(config_gets(), 1);

    // Cached: no request at all, and --no-pull is content.
    r = run_slm(std::string("info --no-pull --json ") + kName);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["path"], info["path"]);
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(config_gets(), 1);
}

TEST_F(ModelNames, QuantTagPicksTheGgufFile) {
    auto r = run_slm(std::string("info --json ") + kName + ":Q8_0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json info = json::parse(r.out);
    EXPECT_EQ(info["format"], "gguf");
    EXPECT_THAT(info["path"].get<std::string>(), StartsWith(snapshot_prefix()));
    EXPECT_THAT(info["path"].get<std::string>(), ::testing::EndsWith("/tinyqwen2-bpe-11m-q8_0.gguf"));
    EXPECT_EQ(config_gets(), 0);  // only the .gguf was fetched
}

TEST_F(ModelNames, NoPullAndOfflineRefuseAModelNotCached) {
    auto r = run_slm(std::string("info --no-pull ") + kName);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("not in the Hugging Face cache"));
    EXPECT_THAT(r.err, HasSubstr(std::string("slm pull ") + kName));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

    setenv("HF_HUB_OFFLINE", "1", 1);
    r = run_slm(std::string("run ") + kName + " -p hi -n 1");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("HF_HUB_OFFLINE"));
    EXPECT_EQ(config_gets(), 0);
    EXPECT_FALSE(fs::exists(cache_ + "/models--slm-test--tinyqwen2-bpe-11m/snapshots"));
}

TEST_F(ModelNames, AnExistingPathWinsOverAName) {
    // ./slm-test/tinyqwen2-bpe-11m exists in the working directory: it is the model, no Hub asked.
    fs::create_directories(dir_ + "/cwd/slm-test");
    fs::create_symlink(shared_ + "/models/tinyqwen2-bpe-11m", dir_ + "/cwd/" + kName);
    const fs::path before = fs::current_path();
    fs::current_path(dir_ + "/cwd");
    const auto r = run_slm(std::string("info --json ") + kName);
    fs::current_path(before);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["path"], kName);
    EXPECT_EQ(config_gets(), 0);
    EXPECT_FALSE(fs::exists(cache_));
}

TEST_F(ModelNames, MissingPathsAndLoraAdaptersAreNeverTakenAsNames) {
    auto r = run_slm("info ./slm-test/nothing-here");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("no such file"));
    r = run_slm("info slm-test/model.gguf");  // a file name, mistyped: not a repository
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("no such file"));
    EXPECT_THAT(r.err, Not(HasSubstr("pulling")));

    // The model is a name (pulled); the adapter slm-test/adapter is a path that does not exist.
    r = run_slm(std::string("run ") + kName + " -p hi -n 1 --lora slm-test/adapter");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("slm-test/adapter"));
    EXPECT_THAT(r.err, Not(HasSubstr("slm-test/adapter is not in the cache")));
    EXPECT_EQ(config_gets(), 1);
}

TEST_F(ModelNames, RunGeneratesFromAName) {
    const auto r = run_slm(std::string("run ") + kName + " -p " + quoted("The Python tutorial") + " -n 8 --greedy");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, StartsWith("The Python tutorial"));
}

TEST(CliInstall, VersionNamesTheCommit) {
    const auto r = run_slm("--version");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_THAT(r.out, ::testing::MatchesRegex("slm [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit [0-9a-f]{12}(-dirty)?\\)\n|"
                                               "slm [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit unknown\\)\n"));
}

// Runs `script` in bash after sourcing the completion script; returns its stdout.
std::string in_bash_with_completion(const std::string& script) {
    const std::string dir = test::temp_dir();
    const auto completion = run_slm("completion bash");
    EXPECT_EQ(completion.exit_code, 0) << completion.err;
    std::ofstream(dir + "/slm-completion.bash") << completion.out;
    std::ofstream(dir + "/probe.sh") << "source " + quoted(dir + "/slm-completion.bash") + "\n" + script;
    const std::string out = dir + "/probe.out";
    EXPECT_EQ(std::system(("bash " + quoted(dir + "/probe.sh") + " >" + quoted(out)).c_str()), 0);
    std::ifstream in(out);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string complete(const std::string& words) {
    return in_bash_with_completion("COMP_WORDS=(" + words +
                                   "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _slm; "
                                   "printf '%s\\n' \"${COMPREPLY[@]}\"");
}

TEST(CliInstall, BashCompletionCompletesVerbsOptionsAndCachedModels) {
    EXPECT_EQ(complete("slm ru"), "run\n");
    EXPECT_EQ(complete("slm run model --no-p"), "--no-pull\n");
    EXPECT_EQ(complete("slm eval task s"), "squad\nsummarize\n");
    const std::string cache = test::temp_dir() + "/completion-cache";
    fs::create_directories(cache + "/models--slm-test--tinyqwen2-bpe-11m/snapshots");
    const std::string out = in_bash_with_completion("export HF_HUB_CACHE=" + quoted(cache) +
                                                    "; COMP_WORDS=(slm info slm-test/t); COMP_CWORD=2; _slm; "
                                                    "printf '%s\\n' \"${COMPREPLY[@]}\"");
    EXPECT_EQ(out, std::string(kName) + "\n");
}

}  // namespace
}  // namespace slm
