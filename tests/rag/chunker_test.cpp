// Chunker: sizes, overlap, boundaries and line ranges, with one token per word.
#include "rag/chunker.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <slm/error.h>

#include <algorithm>

#include "rag/document.h"
#include "rag/test_embedder.h"

namespace slm::rag {
namespace {

test::HashingEmbedder words;
const TokenCounter count = [](std::string_view t) { return words.count_tokens(t); };

std::string numbered_words(int from, int n) {
    std::string s;
    for (int i = from; i < from + n; ++i) s += fmt::format("{}w{}", s.empty() ? "" : " ", i);
    return s;
}

TEST(Chunker, ChunksStayWithinTheTokenBudget) {
    // 40 lines of 10 words: 400 tokens.
    std::string text;
    for (int l = 0; l < 40; ++l) text += numbered_words(l * 10, 10) + "\n";
    const auto chunks = chunk_document(Document{"a.txt", {{0, text}}}, count, {64, 8});
    ASSERT_GT(chunks.size(), 5u);
    for (const Chunk& c : chunks) EXPECT_LE(words.count_tokens(c.text), 64u) << c.text;
    // Every word of the document is in some chunk.
    for (int w = 0; w < 400; w += 37) {
        const std::string word = fmt::format("w{} ", w);
        bool found = false;
        for (const Chunk& c : chunks) {
            std::string spaced = c.text + " ";
            std::replace(spaced.begin(), spaced.end(), '\n', ' ');
            found = found || spaced.find(word) != std::string::npos;
        }
        EXPECT_TRUE(found) << word;
    }
}

TEST(Chunker, ConsecutiveChunksOverlapByAboutTheOverlap) {
    std::string text;
    for (int l = 0; l < 30; ++l) text += numbered_words(l * 4, 4) + "\n";  // 4-token lines
    const auto chunks = chunk_document(Document{"a.txt", {{0, text}}}, count, {40, 8});
    ASSERT_GE(chunks.size(), 3u);
    for (size_t i = 0; i + 1 < chunks.size(); ++i) {
        // The next chunk starts with the previous one's last two lines (8 tokens).
        const std::string& next = chunks[i + 1].text;
        const std::string first_line = next.substr(0, next.find('\n'));
        EXPECT_NE(chunks[i].text.find(first_line), std::string::npos) << i;
        EXPECT_EQ(chunks[i + 1].line_begin, chunks[i].line_end - 1) << i;
    }
}

TEST(Chunker, LineRangesPointAtTheChunkText) {
    const std::string text = "first line\nsecond line\n\nfourth line after a blank\nfifth\n";
    const auto chunks = chunk_document(Document{"a.md", {{0, text}}}, count, {8, 0});
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].line_begin, 1);
    EXPECT_EQ(chunks[0].line_end, 2);
    EXPECT_EQ(chunks[0].text, "first line\nsecond line");
    EXPECT_EQ(chunks[1].line_begin, 4);
    EXPECT_EQ(chunks[1].line_end, 5);
    EXPECT_EQ(chunks[1].text, "fourth line after a blank\nfifth");
}

TEST(Chunker, PrefersToCutAtAHeading) {
    // 20 tokens of section A, then a heading and section B: a 32-token chunk could take 12 tokens
    // of B, but cuts before the heading since the chunk is more than half full.
    std::string text = "# A\n" + numbered_words(0, 18) + "\n# B\n" + numbered_words(100, 30) + "\n";
    const auto chunks = chunk_document(Document{"a.md", {{0, text}}}, count, {32, 0});
    ASSERT_GE(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].text, "# A\n" + numbered_words(0, 18));
    EXPECT_EQ(chunks[1].text.rfind("# B", 0), 0u) << chunks[1].text;
    EXPECT_EQ(chunks[1].line_begin, 3);
}

TEST(Chunker, SplitsALongParagraphOnOneLine) {
    const std::string text = numbered_words(0, 300);  // a Markdown paragraph without line breaks
    const auto chunks = chunk_document(Document{"a.md", {{0, text}}}, count, {50, 10});
    ASSERT_GE(chunks.size(), 6u);
    for (const Chunk& c : chunks) {
        EXPECT_LE(words.count_tokens(c.text), 50u);
        EXPECT_EQ(c.line_begin, 1);
        EXPECT_EQ(c.line_end, 1);
    }
    EXPECT_NE(chunks.back().text.find("w299"), std::string::npos);
}

TEST(Chunker, KeepsPageNumbers) {
    const auto chunks = chunk_document(Document{"a.pdf", {{1, "page one text"}, {2, "page two text"}}}, count, {16, 0});
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].page, 1);
    EXPECT_EQ(chunks[1].page, 2);
    EXPECT_EQ(chunks[1].text, "page two text");
}

TEST(Chunker, RejectsAnOverlapOfMoreThanHalfTheChunk) {
    EXPECT_THROW(chunk_document(Document{"a.txt", {{0, "x"}}}, count, {32, 20}), Error);
    EXPECT_THROW(chunk_document(Document{"a.txt", {{0, "x"}}}, count, {4, 0}), Error);
}

TEST(HtmlText, KeepsHeadingsAndDropsScriptsAndStyles) {
    const std::string html =
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<h1>Guide</h1><script>var x = '<p>no</p>';</script><p>Hello &amp; welcome&#33;</p>"
        "<!-- a comment --><h2>Install</h2><ul><li>one</li><li>two</li></ul></body></html>";
    EXPECT_EQ(html_to_text(html), "# Guide\n\nHello & welcome!\n\n## Install\n\none\ntwo\n");
}

}  // namespace
}  // namespace slm::rag
