// Grounded prompt: numbered passages in the user turn; citations back to files, pages and lines.
#include <gtest/gtest.h>
#include <slm/grounded_prompt.h>

#include <filesystem>
#include <nlohmann/json.hpp>

namespace slm::rag {
namespace {

std::vector<Passage> sample_passages() {
    const std::string cwd = std::filesystem::current_path().string();
    Passage a;
    a.path = cwd + "/docs/guide.md";
    a.line_begin = 3;
    a.line_end = 9;
    a.text = "Install with apt.";
    Passage b;
    b.path = "/elsewhere/manual.pdf";
    b.page = 4;
    b.line_begin = 2;
    b.line_end = 2;
    b.text = "Press the red button.";
    return {a, b};
}

TEST(SourceLabel, NamesFilePageAndLines) {
    const auto p = sample_passages();
    EXPECT_EQ(source_label(p[0]), "docs/guide.md:3-9");  // relative under the working directory
    EXPECT_EQ(source_label(p[1]), "/elsewhere/manual.pdf p.4:2");
}

TEST(GroundedMessages, NumbersPassagesAfterTheHistory) {
    nlohmann::ordered_json history = nlohmann::ordered_json::array();
    history.push_back({{"role", "user"}, {"content", "hi"}});
    history.push_back({{"role", "assistant"}, {"content", "hello"}});
    const auto messages = grounded_messages(history, "How do I install it?", sample_passages());
    ASSERT_EQ(messages.size(), 3u);
    EXPECT_EQ(messages[2]["role"], "user");
    const std::string content = messages[2]["content"];
    EXPECT_NE(content.find("[1] (docs/guide.md:3-9)\nInstall with apt."), std::string::npos) << content;
    EXPECT_NE(content.find("[2] (/elsewhere/manual.pdf p.4:2)\nPress the red button."), std::string::npos);
    EXPECT_EQ(content.substr(content.size() - 30), "Question: How do I install it?");
}

TEST(FitGroundedMessages, DropsPassagesFromTheEndUntilTheRenderingFits) {
    const auto passages = sample_passages();
    const nlohmann::ordered_json history = nlohmann::ordered_json::array({{{"role", "user"}, {"content", "Hi"}}});
    auto size_of = [](const nlohmann::ordered_json& m) { return m.back()["content"].get<std::string>().size(); };
    const size_t both = size_of(grounded_messages(history, "Q?", passages));
    const size_t first = size_of(grounded_messages(history, "Q?", std::span(passages).first(1)));
    int calls = 0;
    auto fits_under = [&](size_t limit) {
        return [&, limit](const nlohmann::ordered_json& m) { return ++calls, size_of(m) <= limit; };
    };
    FittedConversation all = fit_grounded_messages(history, "Q?", passages, fits_under(both));
    EXPECT_TRUE(all.fits);
    EXPECT_EQ(all.passages.size(), 2u);
    EXPECT_EQ(calls, 1);
    FittedConversation one = fit_grounded_messages(history, "Q?", passages, fits_under(both - 1));
    EXPECT_TRUE(one.fits);
    ASSERT_EQ(one.passages.size(), 1u);
    EXPECT_EQ(one.passages[0].text, "Install with apt.");  // the best passage stays
    EXPECT_EQ(one.messages, grounded_messages(history, "Q?", one.passages));
    FittedConversation none = fit_grounded_messages(history, "Q?", passages, fits_under(first - 1));
    EXPECT_TRUE(none.fits);  // the question alone is shorter still
    EXPECT_TRUE(none.passages.empty());
    FittedConversation never = fit_grounded_messages(history, "Q?", passages, fits_under(0));
    EXPECT_FALSE(never.fits);
    EXPECT_TRUE(never.passages.empty());
    EXPECT_EQ(never.messages.size(), 2u);  // history kept: dropping turns is the caller's choice
}

TEST(CitedPassages, MapsNumbersInOrderOfFirstMention) {
    const auto p = sample_passages();
    const auto cited = cited_passages("Press it [2]. Then install [1][2], see [2, 1] and [7] and [x] and [1.5].", p);
    ASSERT_EQ(cited.size(), 2u);
    EXPECT_EQ(cited[0].number, 2);
    EXPECT_EQ(cited[0].passage, 1u);
    EXPECT_EQ(cited[0].label, "/elsewhere/manual.pdf p.4:2");
    EXPECT_EQ(cited[1].number, 1);
    EXPECT_EQ(cited[1].label, "docs/guide.md:3-9");
    EXPECT_TRUE(cited_passages("no citations here [] [0]", p).empty());
}

}  // namespace
}  // namespace slm::rag
