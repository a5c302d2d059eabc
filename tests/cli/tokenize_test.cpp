// `slm tokenize` / `slm detokenize` end to end: every model in ../shared/models and every vocab
// GGUF in ../shared/vocab-tests, ids as the tokenizer library gives them, and clean errors.
#include <slm/file_io.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <sys/wait.h>

#include "testing/testing.h"

namespace {

struct Result {
    int code = -1;
    std::string out;
};

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

Result slm_run(const std::string& args) {
    Result r;
    std::string command = quote(SLM_BINARY) + " " + args + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
    int status = pclose(pipe);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

// The vocab-test case "Hello world" (with one leading space in llama.cpp's set) and its ids.
struct VocabCase {
    std::string text, ids;
};

VocabCase find_case(const std::string& gguf, const std::string& wanted) {
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::string inp = slm::read_text_file(gguf + ".inp"), out = slm::read_text_file(gguf + ".out");
    std::istringstream lines(out);
    std::string line;
    size_t start = 0;
    for (size_t at = inp.find(sep); at != std::string::npos; at = inp.find(sep, start)) {
        std::string text = inp.substr(start, at - start);
        start = at + sep.size();
        std::getline(lines, line);
        if (text == wanted) {
            size_t b = line.find_first_not_of(' ');
            return {text, b == std::string::npos ? "" : line.substr(b)};
        }
    }
    return {};
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

TEST(CliTokenize, EveryVocabGgufGivesTheReferenceIds) {
    SLM_REQUIRE_SHARED(shared);
    int checked = 0;
    for (const auto& e : std::filesystem::directory_iterator(shared + "/vocab-tests")) {
        if (e.path().extension() != ".gguf") continue;
        const std::string path = e.path().string();
        VocabCase c = find_case(path, " Hello world");
        ASSERT_FALSE(c.ids.empty()) << path << ": no ' Hello world' case";
        Result r = slm_run("tokenize " + quote(path) + " " + quote(c.text) + " --ids --no-special");
        EXPECT_EQ(r.code, 0) << r.out;
        EXPECT_EQ(trim(r.out), c.ids) << path;
        ++checked;
    }
    EXPECT_GE(checked, 7);
}

TEST(CliTokenize, EveryModelTokenizesAndDetokenizesBack) {
    SLM_REQUIRE_SHARED(shared);
    for (const auto& e : std::filesystem::directory_iterator(shared + "/models")) {
        if (!e.is_directory()) continue;
        std::vector<std::string> paths = {e.path().string()};
        for (const auto& f : std::filesystem::directory_iterator(e.path()))
            if (f.path().extension() == ".gguf") paths.push_back(f.path().string());
        for (const std::string& path : paths) {
            Result ids = slm_run("tokenize " + quote(path) + " 'The quick brown fox' --ids --no-special");
            ASSERT_EQ(ids.code, 0) << path << ": " << ids.out;
            ASSERT_FALSE(trim(ids.out).empty()) << path;
            Result text = slm_run("detokenize " + quote(path) + " " + quote(trim(ids.out)));
            ASSERT_EQ(text.code, 0) << path << ": " << text.out;
            EXPECT_EQ(trim(text.out), "The quick brown fox") << path;
            Result table = slm_run("tokenize " + quote(path) + " 'The quick brown fox'");
            ASSERT_EQ(table.code, 0) << table.out;
            EXPECT_NE(table.out.find('\t'), std::string::npos) << "default output is id<TAB>piece per line";
        }
    }
}

TEST(CliTokenize, SpecialTokensFollowTheFlags) {
    SLM_REQUIRE_SHARED(shared);
    const std::string qwen = quote(shared + "/models/tinyqwen2-bpe-11m");
    Result parsed = slm_run("tokenize " + qwen + " '<|im_start|>' --ids --parse-special");
    EXPECT_EQ(trim(parsed.out), "1");
    Result plain = slm_run("tokenize " + qwen + " '<|im_start|>' --ids");
    EXPECT_NE(trim(plain.out), "1") << "without --parse-special the text is plain text";
    const std::string llama = quote(shared + "/models/tinyllama-spm-13m");
    Result with_bos = slm_run("tokenize " + llama + " 'hi' --ids");
    EXPECT_EQ(trim(with_bos.out).substr(0, 2), "1 ") << "Llama adds BOS by default";
    Result no_bos = slm_run("tokenize " + llama + " 'hi' --ids --no-special");
    EXPECT_NE(trim(no_bos.out).substr(0, 2), "1 ");
    Result file = slm_run("tokenize " + llama + " --ids --no-special --file " +
                          quote(shared + "/vocab-tests/ggml-vocab-llama-spm.gguf.inp"));
    EXPECT_EQ(file.code, 0) << file.out;
}

TEST(CliTokenize, BadInputGivesClearErrors) {
    Result missing = slm_run("tokenize /nonexistent/model.gguf hello");
    EXPECT_EQ(missing.code, 1);
    EXPECT_NE(missing.out.find("/nonexistent/model.gguf"), std::string::npos) << missing.out;
    Result usage = slm_run("tokenize");
    EXPECT_EQ(usage.code, 2);
    SLM_REQUIRE_SHARED(shared);
    const std::string qwen = quote(shared + "/models/tinyqwen2-bpe-11m");
    Result range = slm_run("detokenize " + qwen + " 5 99999999");
    EXPECT_EQ(range.code, 1);
    EXPECT_NE(range.out.find("99999999"), std::string::npos) << range.out;
    Result word = slm_run("detokenize " + qwen + " 5 abc");
    EXPECT_EQ(word.code, 1);
    EXPECT_NE(word.out.find("abc"), std::string::npos) << word.out;
}

}  // namespace
