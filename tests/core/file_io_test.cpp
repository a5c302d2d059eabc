#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/tensor.h>

#include "testing/testing.h"

#include <filesystem>

using namespace slm;

TEST(AtomicFileWriter, LeavesTargetUntouchedWithoutCommit) {
    const std::string path = test::temp_dir() + "/atomic.bin";
    write_file_atomic(path, "old");
    {
        AtomicFileWriter w(path);
        w.write("new contents");
    }
    EXPECT_EQ(read_text_file(path), "old");
    for (const auto& entry : std::filesystem::directory_iterator(test::temp_dir()))
        EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << "temp file left behind";
}

TEST(AtomicFileWriter, PadsToAlignment) {
    const std::string path = test::temp_dir() + "/pad.bin";
    AtomicFileWriter w(path);
    w.write("abc");
    w.pad_to(32);
    EXPECT_EQ(w.offset(), 32u);
    w.commit();
    EXPECT_EQ(file_size(path), 32u);
}

TEST(Buffer, MapFileNamesMissingFile) {
    try {
        Buffer::map_file("/nonexistent/model.gguf");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos);
    }
}

TEST(Buffer, AllocateIsAlignedAndZeroed) {
    auto b = Buffer::allocate(1000, 64);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
    for (size_t i = 0; i < b.size(); ++i) ASSERT_EQ(b.data()[i], 0);
}
