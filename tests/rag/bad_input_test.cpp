// Bad input: binary files, corrupt and encrypted PDFs, a KB of another embedding model, an empty
// query, a locked KB, a file that is not a KB. Each is a clear error naming what was wrong, and
// the KB stays intact.
#include <gtest/gtest.h>
#include <slm/error.h>
#include <slm/rag.h>

#include <filesystem>

#include "rag/document.h"
#include "rag/test_embedder.h"
#include "testing/testing.h"

namespace slm::rag {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(Documents, PdfPagesAreReadWithTheirNumbers) {
    const std::string path = slm::test::temp_dir() + "/pages.pdf";
    test::write_file(path, test::make_pdf({"First page text", "Second page talks about turbines\nand a second line"}));
    const Document doc = read_document(path);
    ASSERT_EQ(doc.pages.size(), 2u);
    EXPECT_EQ(doc.pages[0].number, 1);
    EXPECT_NE(doc.pages[0].text.find("First page text"), std::string::npos) << doc.pages[0].text;
    EXPECT_EQ(doc.pages[1].number, 2);
    EXPECT_NE(doc.pages[1].text.find("turbines"), std::string::npos);
}

TEST(Documents, RefusesBinaryCorruptAndEncryptedFilesByName) {
    const std::string dir = slm::test::temp_dir() + "/refused";
    test::write_file(dir + "/image.txt", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
    test::write_file(dir + "/latin1.md", "caf\xe9 au lait\n");
    test::write_file(dir + "/corrupt.pdf", "%PDF-1.4\nthis is not really a pdf at all\n");
    test::write_file(dir + "/locked.pdf", test::make_encrypted_pdf("secret text"));
    const std::string binary = error_of([&] { read_document(dir + "/image.txt"); });
    EXPECT_NE(binary.find(dir + "/image.txt: binary file"), std::string::npos) << binary;
    EXPECT_NE(error_of([&] { read_document(dir + "/latin1.md"); }).find("binary file (byte 3"), std::string::npos);
    const std::string corrupt = error_of([&] { read_document(dir + "/corrupt.pdf"); });
    EXPECT_NE(corrupt.find(dir + "/corrupt.pdf: unreadable PDF"), std::string::npos) << corrupt;
    const std::string locked = error_of([&] { read_document(dir + "/locked.pdf"); });
    EXPECT_NE(locked.find(dir + "/locked.pdf: "), std::string::npos) << locked;
    EXPECT_NE(locked.find("encrypted"), std::string::npos) << locked;
}

TEST(KnowledgeBaseBadInput, AnIndexRunReportsRejectedFilesAndIndexesTheOthers) {
    const std::string dir = slm::test::temp_dir() + "/mixed";
    test::write_file(dir + "/good.md", "Wind turbines turn kinetic energy into electricity.\n");
    test::write_file(dir + "/manual.pdf", test::make_pdf({"Introduction", "Maintenance of turbines every spring"}));
    test::write_file(dir + "/blob.md", std::string("\0\1\2\3binary", 10));
    test::write_file(dir + "/locked.pdf", test::make_encrypted_pdf("secret"));
    test::write_file(dir + "/photo.jpg", "\xff\xd8\xff\xe0 not a document");  // not picked up by a folder walk
    test::HashingEmbedder embedder;
    auto kb = KnowledgeBase::open(dir + "/../mixed.kb", KnowledgeBase::Access::write);
    const std::string docs[] = {dir};
    const IndexReport report = kb.index(docs, embedder, "", test::quiet_index_options());
    EXPECT_EQ(report.files_seen, 4);
    EXPECT_EQ(report.files_indexed, 2);
    ASSERT_EQ(report.rejected.size(), 2u);
    EXPECT_NE(report.rejected[0].path.find("blob.md"), std::string::npos);
    EXPECT_NE(report.rejected[0].reason.find("binary file"), std::string::npos);
    EXPECT_NE(report.rejected[1].path.find("locked.pdf"), std::string::npos);
    const auto found = kb.retrieve("maintenance spring", 1, RetrievalMode::bm25, nullptr);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].page, 2);
    EXPECT_EQ(found[0].line_begin, 1);
}

TEST(KnowledgeBaseBadInput, AnotherEmbeddingModelIsRefusedUnlessReembedding) {
    const std::string dir = slm::test::temp_dir() + "/models";
    test::write_file(dir + "/docs/a.md", "Alpha text about rivers.\n");
    test::write_file(dir + "/docs/b.md", "Beta text about mountains.\n");
    test::HashingEmbedder first("model-a", 64), second("model-b", 32);
    auto kb = KnowledgeBase::open(dir + "/kb", KnowledgeBase::Access::write);
    const std::string docs[] = {dir + "/docs"};
    kb.index(docs, first, "", test::quiet_index_options());
    const std::string refused = error_of([&] { kb.index(docs, second, "", test::quiet_index_options()); });
    EXPECT_NE(refused.find("built with embedding model 'model-a' (64 dims), not 'model-b' (32 dims)"),
              std::string::npos)
        << refused;
    EXPECT_NE(refused.find("--reembed"), std::string::npos);
    EXPECT_EQ(second.calls, 0);
    // The KB is intact and still answers with its own model; another model cannot query it.
    EXPECT_EQ(kb.retrieve("rivers", 1, RetrievalMode::vector, &first).size(), 1u);
    EXPECT_NE(error_of([&] {
                  kb.retrieve("rivers", 1, RetrievalMode::hybrid, &second);
              }).find("built with embedding model 'model-a'"),
              std::string::npos);
    // Other chunking is refused the same way.
    IndexOptions rechunk = test::quiet_index_options();
    rechunk.chunking = {128, 16};
    EXPECT_NE(error_of([&] { kb.index(docs, first, "", rechunk); }).find("--reembed"), std::string::npos);
    // --reembed rebuilds every vector with the new model.
    IndexOptions reembed = test::quiet_index_options();
    reembed.reembed = true;
    const IndexReport report = kb.index(docs, second, "", reembed);
    EXPECT_EQ(report.files_indexed, 2);
    EXPECT_EQ(second.texts_embedded, 2);
    EXPECT_EQ(kb.info().embed_model_id, "model-b");
    EXPECT_EQ(kb.info().dim, 32);
    EXPECT_EQ(kb.retrieve("mountains", 1, RetrievalMode::vector, &second).size(), 1u);
}

TEST(KnowledgeBaseBadInput, EmptyQueryIsRefused) {
    const std::string dir = slm::test::temp_dir() + "/empty";
    test::write_file(dir + "/docs/a.md", "Something.\n");
    test::HashingEmbedder embedder;
    auto kb = KnowledgeBase::open(dir + "/kb", KnowledgeBase::Access::write);
    const std::string docs[] = {dir + "/docs"};
    kb.index(docs, embedder, "", test::quiet_index_options());
    EXPECT_NE(error_of([&] { kb.retrieve("", 3, RetrievalMode::hybrid, &embedder); }).find("empty query"),
              std::string::npos);
    EXPECT_NE(error_of([&] { kb.retrieve(" \n\t", 3, RetrievalMode::bm25, nullptr); }).find("empty query"),
              std::string::npos);
    // Only punctuation: no word to match, no error, no result.
    EXPECT_TRUE(kb.retrieve("?!", 3, RetrievalMode::bm25, nullptr).empty());
}

TEST(KnowledgeBaseBadInput, ASecondWriterIsRefusedAndReadersStillRead) {
    const std::string dir = slm::test::temp_dir() + "/locked";
    test::write_file(dir + "/docs/a.md", "Locks keep writers apart.\n");
    test::HashingEmbedder embedder;
    auto writer = KnowledgeBase::open(dir + "/kb", KnowledgeBase::Access::write);
    const std::string docs[] = {dir + "/docs"};
    writer.index(docs, embedder, "", test::quiet_index_options());
    const std::string locked = error_of([&] { KnowledgeBase::open(dir + "/kb", KnowledgeBase::Access::write); });
    EXPECT_NE(locked.find(dir + "/kb: KB locked by another writer"), std::string::npos) << locked;
    auto reader = KnowledgeBase::open(dir + "/kb", KnowledgeBase::Access::read);
    EXPECT_EQ(reader.retrieve("writers", 1, RetrievalMode::bm25, nullptr).size(), 1u);
    EXPECT_EQ(writer.index(docs, embedder, "", test::quiet_index_options()).files_unchanged, 1);
}

TEST(KnowledgeBaseBadInput, MissingFilesAndNonKnowledgeBasesAreNamed) {
    const std::string dir = slm::test::temp_dir() + "/notkb";
    test::write_file(dir + "/notes.txt", "just text\n");
    EXPECT_NE(error_of([&] {
                  KnowledgeBase::open(dir + "/notes.txt", KnowledgeBase::Access::read);
              }).find("not a knowledge base"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  KnowledgeBase::open(dir + "/none.kb", KnowledgeBase::Access::read);
              }).find("no such knowledge base"),
              std::string::npos);
    test::HashingEmbedder embedder;
    auto kb = KnowledgeBase::open(dir + "/kb", KnowledgeBase::Access::write);
    const std::string docs[] = {dir + "/missing-folder"};
    const IndexReport report = kb.index(docs, embedder, "", test::quiet_index_options());
    ASSERT_EQ(report.rejected.size(), 1u);
    EXPECT_EQ(report.rejected[0].reason, "no such file or folder");
}

}  // namespace
}  // namespace slm::rag
