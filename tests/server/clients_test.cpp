// Real clients against the server: the official `openai` npm package (tests/server/clients,
// installed by scripts/setup.sh with npm ci) and ollama-shaped fetch requests, both under Node.js.
#include "server/server_test_support.h"

#include "testing/testing.h"

#include <slm/file_io.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <sys/wait.h>

namespace slm::server::test {
namespace {

struct CommandResult {
    int status = -1;
    std::string output;
};

CommandResult run_command(const std::string& command) {
    CommandResult result;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return result;
    std::array<char, 4096> buffer;
    size_t n;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
    const int status = pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

class Clients : public ::testing::Test {
protected:
    void SetUp() override {
        model_ = tiny_model_path();
        if (model_.empty()) GTEST_SKIP() << "../shared/models/tinyqwen2-bpe-11m not found";
        if (run_command("node --version").status != 0) GTEST_SKIP() << "Node.js is not installed";
        clients_ = slm::test::source_dir() + "/tests/server/clients";
        if (!is_directory(clients_ + "/node_modules/openai"))
            GTEST_SKIP() << "the openai npm package is not installed: run scripts/setup.sh (npm ci in tests/server/clients)";
        ServerOptions options;
        options.model_path = model_;
        options.api_key = "client-test-key";
        options.parallel = 2;
        options.threads = 2;
        server_ = start_server(options, load_model_engine(options));
    }
    std::string node(const std::string& script, const std::string& base) const {
        return fmt::format("node '{}/{}' '{}' client-test-key tinyqwen2-bpe-11m", clients_, script, base);
    }
    std::string model_, clients_;
    RunningServer server_;
};

TEST_F(Clients, OfficialOpenAiNpmClientDrivesChatStreamingAndCompletions) {
    const auto r = run_command(node("openai_client_test.mjs", fmt::format("http://127.0.0.1:{}/v1", server_.port)));
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("checks passed"), std::string::npos) << r.output;
}

TEST_F(Clients, OllamaShapedRequestsWork) {
    const auto r = run_command(node("ollama_requests_test.mjs", fmt::format("http://127.0.0.1:{}", server_.port)));
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("checks passed"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace slm::server::test
