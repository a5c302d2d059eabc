// llama.cpp's tokenizer test vectors (../shared/vocab-tests): every ggml-vocab-*.gguf with its
// .inp/.out pair, encoded with add_special=false, parse_special=false, must give exactly the
// expected ids (the semantics of llama.cpp's test-tokenizer-0). New vocabularies need no code.
#include <slm/file_io.h>
#include <slm/gguf.h>
#include <slm/tokenizer.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "testing/testing.h"

namespace {

struct VocabCase {
    std::string input;
    std::vector<int32_t> expected;
};

std::vector<VocabCase> read_cases(const std::string& gguf_path) {
    const std::string separator = "\n__ggml_vocab_test__\n";
    std::string inp = slm::read_text_file(gguf_path + ".inp");
    std::string out = slm::read_text_file(gguf_path + ".out");
    std::vector<std::string> inputs;
    size_t start = 0;
    for (size_t at = inp.find(separator); at != std::string::npos; at = inp.find(separator, start)) {
        inputs.push_back(inp.substr(start, at - start));
        start = at + separator.size();
    }
    std::vector<VocabCase> cases;
    std::istringstream lines(out);
    std::string line;
    for (const std::string& input : inputs) {
        if (!std::getline(lines, line)) break;
        VocabCase c{input, {}};
        std::istringstream ids(line);
        for (int32_t id; ids >> id;) c.expected.push_back(id);
        cases.push_back(std::move(c));
    }
    EXPECT_EQ(cases.size(), inputs.size()) << gguf_path << ": .inp and .out disagree on the number of cases";
    return cases;
}

std::string show(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) {
        s += ' ';
        s += std::to_string(id);
    }
    return s;
}

std::vector<std::string> vocab_files() {
    std::vector<std::string> files;
    std::string shared = slm::test::shared_dir();
    if (shared.empty() || !slm::is_directory(shared + "/vocab-tests")) return files;
    for (const auto& e : std::filesystem::directory_iterator(shared + "/vocab-tests")) {
        std::string p = e.path().string();
        if (e.path().extension() == ".gguf" && slm::file_exists(p + ".inp") && slm::file_exists(p + ".out"))
            files.push_back(p);
    }
    std::sort(files.begin(), files.end());
    return files;
}

TEST(TokenizerLlamaVocab, EveryVectorEncodesExactly) {
    SLM_REQUIRE_SHARED(shared);
    auto files = vocab_files();
    ASSERT_FALSE(files.empty()) << "no ggml-vocab-*.gguf with .inp/.out in " << shared << "/vocab-tests";
    size_t total = 0, passed = 0;
    for (const std::string& path : files) {
        auto gguf = slm::GgufFile::open(path);
        auto tok = slm::Tokenizer::from_gguf(*gguf);
        for (const VocabCase& c : read_cases(path)) {
            ++total;
            auto ids = tok->encode(c.input, /*add_special=*/false, /*parse_special=*/false);
            if (ids == c.expected) {
                ++passed;
                continue;
            }
            ADD_FAILURE() << std::filesystem::path(path).filename().string() << ": input '" << c.input
                          << "'\n  expected" << show(c.expected) << "\n  got     " << show(ids);
        }
    }
    EXPECT_EQ(passed, total);
    std::cout << "[ vectors  ] " << passed << " of " << total << " cases in " << files.size() << " vocabularies\n";
}

}  // namespace
