// Hugging Face tokenizers as the reference: for every expected-*.json made by
// tests/fixtures/make_tokenizer_fixtures.py, the same tokenizer.json must give the same ids in all
// four (add_special, parse_special) modes, the same decoded text, and transformers' default ids.
#include <slm/file_io.h>
#include <slm/tokenizer.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "testing/testing.h"

namespace {

using nlohmann::json;

// The tokenizer a fixture was made with: a trained one in tests/fixtures/tokenizer, a model in
// ../shared/models, or that model's tokenizer.json turned into the Llama "legacy" form.
std::unique_ptr<slm::Tokenizer> load_reference_tokenizer(const std::string& name, std::string& skip_reason) {
    const std::string fixtures = slm::test::fixtures_dir() + "/tokenizer/";
    if (name.starts_with("trained-")) return slm::Tokenizer::from_hf_files(fixtures + name + ".json", "");
    const std::string shared = slm::test::shared_dir();
    if (shared.empty()) {
        skip_reason = "../shared not found";
        return nullptr;
    }
    const bool legacy = name.ends_with("-legacy");
    const std::string model = legacy ? name.substr(0, name.size() - 7) : name;
    const std::string dir = shared + "/models/" + model;
    if (!slm::is_directory(dir)) {
        skip_reason = dir + " not found";
        return nullptr;
    }
    std::string config = dir + "/tokenizer_config.json";
    if (!legacy) return slm::Tokenizer::from_hf_files(dir + "/tokenizer.json", config);
    json spec = json::parse(slm::read_text_file(dir + "/tokenizer.json"));
    spec["normalizer"] = {{"type", "Sequence"},
                          {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
                                                       {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}})}};
    spec["pre_tokenizer"] = nullptr;
    return slm::Tokenizer::from_hf_json(spec.dump(), slm::read_text_file(config), name);
}

std::vector<int32_t> ids_of(const json& j) { return j.get<std::vector<int32_t>>(); }

class HfFixture : public testing::TestWithParam<std::string> {};

TEST_P(HfFixture, EncodeAndDecodeMatchHuggingFace) {
    const std::string path = GetParam();
    json fixture = json::parse(slm::read_text_file(path));
    const std::string name = fixture["tokenizer"];
    std::string skip_reason;
    auto tok = load_reference_tokenizer(name, skip_reason);
    if (!tok) GTEST_SKIP() << skip_reason;
    size_t checks = 0, passed = 0;
    auto check_ids = [&](const json& c, const char* key, bool add_special, bool parse_special) {
        if (!c.contains(key)) return;
        ++checks;
        auto got = tok->encode(c["text"].get<std::string>(), add_special, parse_special);
        if (got == ids_of(c[key])) {
            ++passed;
            return;
        }
        ADD_FAILURE() << name << " " << key << " of " << c["text"].dump() << "\n  expected " << c[key].dump()
                      << "\n  got      " << json(got).dump();
    };
    auto check_text = [&](const json& c, const char* ids_key, const char* text_key, bool skip_special) {
        if (!c.contains(text_key)) return;
        ++checks;
        std::string got = tok->decode(ids_of(c[ids_key]), skip_special);
        if (got == c[text_key].get<std::string>()) {
            ++passed;
            return;
        }
        ADD_FAILURE() << name << " " << text_key << " of " << c[ids_key].dump() << "\n  expected "
                      << c[text_key].dump() << "\n  got      " << json(got).dump();
    };
    for (const json& c : fixture["cases"]) {
        check_ids(c, "ids", true, true);
        check_ids(c, "ids_plain", false, false);
        check_ids(c, "ids_special_only", true, false);
        check_ids(c, "ids_parse_only", false, true);
        check_ids(c, "transformers_ids", true, true);
        check_text(c, "ids", "decode", false);
        check_text(c, "ids", "decode_skip", true);
        check_text(c, "ids_plain", "decode_plain", false);
        check_text(c, "transformers_ids", "transformers_decode", false);
    }
    EXPECT_EQ(passed, checks);
    EXPECT_GT(checks, 100u) << path << " holds too few cases";
}

std::vector<std::string> fixture_files() {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(slm::test::fixtures_dir() + "/tokenizer"))
        if (e.path().filename().string().starts_with("expected-")) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    return files;
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, HfFixture, testing::ValuesIn(fixture_files()), [](const auto& info) {
    std::string n = std::filesystem::path(info.param).stem().string().substr(9);
    for (char& ch : n)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return n;
});

}  // namespace
