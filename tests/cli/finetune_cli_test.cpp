// `slm finetune` as a user runs it: --json metrics and summary, one-line errors with exit code 1
// for bad data, and `kill -9` in the middle of a run that saves every step: every checkpoint
// left behind is whole, and --resume from the directory ends in the adapter an unstopped run
// writes, byte for byte.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <slm/file_io.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <sstream>
#include <thread>

#include "cli/run_slm.h"
#include "testing/testing.h"

namespace slm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_slm;
using ::testing::HasSubstr;

std::string write_data() {
    std::string text;
    for (int i = 0; i < 40; ++i)
        text += json{{"prompt", fmt::format("Count: {}", i)}, {"completion", fmt::format(" {}", i + 1)}}.dump() + "\n";
    const std::string path = test::temp_dir() + "/count.jsonl";
    write_file_atomic(path, text);
    return path;
}

class FinetuneCli : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string shared = test::shared_dir();
        if (shared.empty()) GTEST_SKIP() << "../shared (models and data) not found beside the repository";
        model = shared + "/models/tinyqwen2-bpe-11m";
        data = write_data();
    }
    std::string args(const std::string& out, int steps = 40) const {
        return "finetune " + test::quoted(model) + " --data " + test::quoted(data) + " -o " + test::quoted(out) +
               " --lora-r 4 --batch-size 2 --lr 3e-3 -t 2 --save-every 1 --max-steps " + std::to_string(steps);
    }
    std::string model, data;
};

TEST_F(FinetuneCli, JsonRecordsPerStepThenASummary) {
    const std::string out = test::temp_dir() + "/json";
    const auto r = run_slm(args(out, 3) + " --eval-split 0.1 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    std::vector<json> records;
    while (std::getline(lines, line)) records.push_back(json::parse(line));
    ASSERT_EQ(records.size(), 4u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(records[size_t(i)]["step"], i + 1);
        for (const char* key : {"loss", "lr", "grad_norm", "tokens_per_second"})
            EXPECT_TRUE(records[size_t(i)].contains(key)) << key;
    }
    const json& summary = records.back();
    EXPECT_TRUE(summary["summary"].get<bool>());
    EXPECT_GT(summary["peak_rss_bytes"].get<int64_t>(), 0);
    EXPECT_TRUE(fs::exists(summary["plot"].get<std::string>()));
    EXPECT_TRUE(fs::exists(out + "/adapter_config.json"));
}

TEST_F(FinetuneCli, BadDataIsOneLineNamingFileAndLine) {
    const std::string bad = test::temp_dir() + "/bad.jsonl";
    write_file_atomic(bad, "{\"text\": \"fine\"}\n{\"text\": \"unterminated\n");
    const auto r = run_slm("finetune " + test::quoted(model) + " --data " + test::quoted(bad) + " -o " +
                           test::quoted(test::temp_dir() + "/bad-out"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("bad.jsonl:2"));
    const auto usage = run_slm("finetune " + test::quoted(model) + " -o x");  // no --data
    EXPECT_EQ(usage.exit_code, 2);
}

TEST_F(FinetuneCli, KilledRunResumesToTheSameAdapter) {
    const std::string whole = test::temp_dir() + "/whole", killed = test::temp_dir() + "/killed";
    ASSERT_EQ(run_slm(args(whole)).exit_code, 0);

    // Start the same run in the background and kill it once a few checkpoints exist (saves happen
    // every step, so the kill is likely to land during one).
    const std::string pid_file = test::temp_dir() + "/pid";
    const std::string command = "('" + std::string(SLM_BINARY) + "' " + args(killed) +
                                " >/dev/null 2>&1 & echo $! > " + test::quoted(pid_file) + ")";
    ASSERT_EQ(std::system(command.c_str()), 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(killed + "/checkpoint-4") && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const pid_t pid = pid_t(std::stol(read_text_file(pid_file)));
    ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_FALSE(fs::exists(killed + "/adapter_model.safetensors")) << "the run finished before it was killed";

    // Every checkpoint directory left is complete; a .partial one may be there too.
    int complete = 0;
    for (const auto& entry : fs::directory_iterator(killed)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with("checkpoint-") || name.ends_with(".partial")) continue;
        for (const char* file : {"adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors",
                                 "trainer_state.json"})
            EXPECT_TRUE(fs::exists(entry.path() / file)) << name << "/" << file;
        EXPECT_TRUE(json::parse(read_text_file((entry.path() / "trainer_state.json").string())).contains("step"));
        ++complete;
    }
    EXPECT_GE(complete, 4);

    const auto resumed = run_slm(args(killed) + " --resume " + test::quoted(killed));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_EQ(read_text_file(killed + "/adapter_model.safetensors"), read_text_file(whole + "/adapter_model.safetensors"));
}

}  // namespace
}  // namespace slm
