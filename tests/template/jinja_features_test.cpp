// Single Jinja features against jinja2 itself: tests/fixtures/chat/jinja_features.json holds small
// templates and what transformers' environment rendered for them (or the error it raised).
#include <slm/jinja.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/testing.h"

namespace {

using nlohmann::ordered_json;

ordered_json load_features() {
    std::ifstream in(slm::test::fixtures_dir() + "/chat/jinja_features.json");
    EXPECT_TRUE(in.good()) << "missing tests/fixtures/chat/jinja_features.json";
    return ordered_json::parse(in);
}

// "TypeError: can only …" → "TypeError"
std::string error_kind(const std::string& message) { return message.substr(0, message.find(':')); }

TEST(JinjaFeatures, RenderExactlyAsJinja2) {
    ordered_json fixture = load_features();
    int passed = 0, total = 0;
    for (const auto& c : fixture["cases"]) {
        ++total;
        const std::string source = c["template"].get<std::string>();
        SCOPED_TRACE("template: " + source);
        std::string got, error;
        try {
            slm::jinja::Template t(source, "feature");
            got = t.render(c["context"]);
        } catch (const slm::jinja::TemplateError& e) {
            error = e.message();
        }
        if (c.contains("expected")) {
            EXPECT_EQ(error, "");
            EXPECT_EQ(got, c["expected"].get<std::string>());
            passed += error.empty() && got == c["expected"].get<std::string>();
        } else {
            const std::string want = c["error"].get<std::string>();
            EXPECT_EQ(error_kind(error), error_kind(want)) << "expected error: " << want << "\n got: " << error;
            if (error_kind(want) == "TemplateError") {
                EXPECT_EQ(error, want);
            }
            passed += error_kind(error) == error_kind(want);
        }
    }
    EXPECT_GT(total, 80);
    std::printf("jinja features: %d of %d match jinja2\n", passed, total);
}

}  // namespace
