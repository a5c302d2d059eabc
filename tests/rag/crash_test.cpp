// Crash safety: an index run killed with SIGKILL midway leaves a knowledge base that opens and
// answers from the files it had committed, and a re-run embeds only the rest.
#include <gtest/gtest.h>
#include <signal.h>
#include <slm/rag.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "rag/test_embedder.h"
#include "testing/testing.h"

namespace slm::rag {
namespace {

TEST(KnowledgeBaseCrash, KilledIndexRunLeavesAUsableKbAndAReRunResumes) {
    const std::string root = slm::test::temp_dir() + "/crash";
    const int files = 20;
    for (int i = 0; i < files; ++i)
        test::write_file(root + "/docs/note" + std::to_string(100 + i) + ".md",
                         "Note " + std::to_string(i) + " mentions topic" + std::to_string(i) + " and shared words.\n");
    const std::string kb_path = root + "/kb.sqlite";
    const std::string docs[] = {root + "/docs"};
    IndexOptions options;
    options.progress = false;
    options.chunking = {64, 8};

    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        try {
            test::HashingEmbedder slow;
            slow.delay_ms = 100;  // 2 s for the whole run: plenty of time to kill it midway
            auto kb = KnowledgeBase::open(kb_path, KnowledgeBase::Access::write);
            kb.index(docs, slow, "", options);
        } catch (...) {
            _exit(3);
        }
        _exit(0);
    }
    // Wait until a few files are committed, then kill the writer mid-run.
    int64_t committed = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        try {
            committed = KnowledgeBase::open(kb_path, KnowledgeBase::Access::read).info().sources;
        } catch (const std::exception&) {
            committed = 0;  // the child has not made the file yet
        }
        if (committed >= 4) break;
    }
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the index run ended before it was killed";
    ASSERT_GE(committed, 4);

    // The KB opens and answers from what was committed.
    const KnowledgeBaseInfo info = KnowledgeBase::open(kb_path, KnowledgeBase::Access::read).info();
    ASSERT_GE(info.sources, 4);
    ASSERT_LT(info.sources, files);
    EXPECT_EQ(info.chunks, info.sources);
    auto reader = KnowledgeBase::open(kb_path, KnowledgeBase::Access::read);
    const auto found = reader.retrieve("topic0", 3, RetrievalMode::bm25, nullptr);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_NE(found[0].path.find("note100.md"), std::string::npos);

    // A re-run takes the writer lock the dead process held and embeds only the rest.
    test::HashingEmbedder embedder;
    auto kb = KnowledgeBase::open(kb_path, KnowledgeBase::Access::write);
    const IndexReport report = kb.index(docs, embedder, "", options);
    EXPECT_EQ(report.files_unchanged, info.sources);
    EXPECT_EQ(report.files_indexed, files - info.sources);
    EXPECT_EQ(embedder.texts_embedded, files - info.sources);
    EXPECT_EQ(kb.info().sources, files);
    EXPECT_EQ(kb.retrieve("topic19", 1, RetrievalMode::bm25, nullptr).size(), 1u);
}

}  // namespace
}  // namespace slm::rag
