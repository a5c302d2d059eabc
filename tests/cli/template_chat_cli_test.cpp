// The `slm template render` and `slm chat` verbs driven as a user would: files and stdin in,
// exact stdout, stderr and exit codes out.
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "testing/testing.h"

namespace {

using nlohmann::ordered_json;

std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

struct SlmResult {
    int code;
    std::string out, err;
};

// Runs `slm ARGS < stdin_file`, capturing stdout and stderr.
SlmResult slm(const std::string& args, const std::string& stdin_text = "") {
    const std::string dir = slm::test::temp_dir();
    write(dir + "/stdin.txt", stdin_text);
    const std::string cmd = std::string(SLM_BINARY) + " " + args + " < " + dir + "/stdin.txt > " + dir + "/stdout.txt 2> " + dir + "/stderr.txt";
    int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read(dir + "/stdout.txt"), read(dir + "/stderr.txt")};
}

TEST(TemplateRenderCli, PrintsExactlyWhatTransformersRenders) {
    ordered_json fixture = ordered_json::parse(read(slm::test::fixtures_dir() + "/chat/meta-llama-Llama-3.1-8B-Instruct.json"));
    const std::string dir = slm::test::temp_dir();
    write(dir + "/llama.jinja", fixture["template"].get<std::string>());
    int checked = 0;
    for (const auto& c : fixture["cases"]) {
        if (!c.contains("expected")) continue;
        SCOPED_TRACE(c["name"].get<std::string>());
        write(dir + "/messages.json", c["messages"].dump());
        std::string args = "template render --template " + dir + "/llama.jinja --messages " + dir + "/messages.json";
        if (c["add_generation_prompt"].get<bool>()) args += " --add-generation-prompt";
        if (!c["tools"].is_null()) {
            write(dir + "/tools.json", c["tools"].dump());
            args += " --tools " + dir + "/tools.json";
        }
        for (const auto& [k, v] : c["variables"].items()) args += " --var " + quote(k + "=" + v.get<std::string>());
        SlmResult r = slm(args);
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out, c["expected"].get<std::string>());
        ++checked;
    }
    EXPECT_GE(checked, 10);
}

TEST(TemplateRenderCli, TemplateErrorGoesToStderrWithExitCode1) {
    const std::string dir = slm::test::temp_dir();
    write(dir + "/bad.jinja", "{% for m in messages %}\n  {{ raise_exception('roles must alternate') }}{% endfor %}");
    write(dir + "/messages.json", R"([{"role": "user", "content": "hi"}])");
    SlmResult r = slm("template render --template " + dir + "/bad.jinja --messages " + dir + "/messages.json");
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find(":2:21: TemplateError: roles must alternate"), std::string::npos) << r.err;
}

TEST(TemplateRenderCli, BadVariableIsAUsageError) {
    const std::string dir = slm::test::temp_dir();
    write(dir + "/t.jinja", "{{ x }}");
    write(dir + "/messages.json", "[]");
    SlmResult r = slm("template render --template " + dir + "/t.jinja --messages " + dir + "/messages.json --var novalue");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("NAME=VALUE"), std::string::npos) << r.err;
}

TEST(ChatCli, ScriptedConversationRendersEachTurnAndReusesTheCache) {
    SLM_REQUIRE_SHARED(shared);
    const std::string model = shared + "/models/tinyqwen2-bpe-11m";
    const std::string dir = slm::test::temp_dir();
    SlmResult r = slm("chat " + model + " --greedy -n 8 --verbose --system 'You are terse.'",
                "Hello there\n/set parameter num_predict 6\nWhat is Python?\n/help\n/save " + dir + "/conversation.json\n/bye\n");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Set parameter 'num_predict' to '6'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/set parameter NAME VALUE"), std::string::npos);

    ordered_json saved = ordered_json::parse(read(dir + "/conversation.json"))["messages"];
    ASSERT_EQ(saved.size(), 5u);
    const char* roles[] = {"system", "user", "assistant", "user", "assistant"};
    for (size_t i = 0; i < 5; ++i) EXPECT_EQ(saved[i]["role"], roles[i]);
    EXPECT_EQ(saved[3]["content"], "What is Python?");

    // One stats line per turn.
    std::vector<ordered_json> turns;
    std::istringstream err(r.err);
    for (std::string line; std::getline(err, line);)
        if (!line.empty() && line[0] == '{') turns.push_back(ordered_json::parse(line));
    ASSERT_EQ(turns.size(), 2u) << r.err;

    // Each turn's prompt is the template's rendering of the conversation so far.
    for (size_t t = 0; t < 2; ++t) {
        ordered_json so_far(saved.begin(), saved.begin() + static_cast<long>(2 + 2 * t));
        write(dir + "/so_far.json", so_far.dump());
        SlmResult rendered = slm("template render --model " + model + " --messages " + dir + "/so_far.json --add-generation-prompt");
        ASSERT_EQ(rendered.code, 0) << rendered.err;
        EXPECT_EQ(turns[t]["prompt"].get<std::string>(), rendered.out);
    }
    // The second turn processes only what follows the cached first turn.
    const int prompt = turns[1]["prompt_tokens"], reused = turns[1]["reused_tokens"], processed = turns[1]["processed_tokens"];
    EXPECT_GT(reused, turns[0]["prompt_tokens"].get<int>() - 2);
    EXPECT_EQ(processed, prompt - reused);
    EXPECT_LT(processed, 20);
}

}  // namespace
