// Real models' chat templates rendered byte for byte as transformers renders them: every
// tests/fixtures/chat/<template>.json (made by make_chat_fixtures.py) holds a template and a set
// of conversations with transformers' output or error for each.
#include <slm/chat_template.h>
#include <slm/jinja.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/testing.h"

namespace {

using nlohmann::ordered_json;

std::string error_kind(const std::string& message) { return message.substr(0, message.find(':')); }

TEST(ChatTemplateConformance, EveryTemplateAndConversationMatchesTransformers) {
    int files = 0, cases = 0, passed = 0;
    for (const auto& entry : std::filesystem::directory_iterator(slm::test::fixtures_dir() + "/chat")) {
        if (entry.path().extension() != ".json" || entry.path().filename() == "jinja_features.json") continue;
        std::ifstream in(entry.path());
        ordered_json fixture = ordered_json::parse(in);
        const std::string name = fixture["template_name"].get<std::string>();
        ++files;
        std::map<std::string, std::string> no_special_tokens;
        slm::ChatTemplate chat(fixture["template"].get<std::string>(), no_special_tokens, name);
        for (const auto& c : fixture["cases"]) {
            ++cases;
            SCOPED_TRACE(name + " / " + c["name"].get<std::string>());
            slm::ChatRenderOptions options;
            options.add_generation_prompt = c["add_generation_prompt"].get<bool>();
            if (!c["tools"].is_null()) options.tools = &c["tools"];
            for (const auto& [k, v] : c["variables"].items()) options.variables[k] = v.get<std::string>();
            std::string got, error;
            try {
                got = chat.render(c["messages"], options);
            } catch (const slm::jinja::TemplateError& e) {
                error = e.message();
            }
            if (c.contains("expected")) {
                const std::string want = c["expected"].get<std::string>();
                EXPECT_EQ(error, "");
                EXPECT_EQ(got, want);
                passed += error.empty() && got == want;
            } else {
                const std::string want = c["error"].get<std::string>();
                EXPECT_EQ(error_kind(error), error_kind(want)) << "transformers raised: " << want << "\n we raised: " << error;
                if (error_kind(want) == "TemplateError") {
                    EXPECT_EQ(error, want);
                }
                passed += error_kind(error) == error_kind(want);
            }
        }
    }
    EXPECT_GE(files, 12);
    std::printf("chat templates: %d templates x conversations = %d cases, %d match transformers\n", files, cases, passed);
}

}  // namespace
