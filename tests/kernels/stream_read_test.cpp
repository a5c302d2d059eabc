// The bandwidth yardstick must really read every byte: its checksum is the XOR of all 8-byte
// words (plus the tail bytes) whatever the thread count or alignment of the length.
#include <slm/kernels.h>
#include <slm/tensor.h>

#include <gtest/gtest.h>

#include <cstring>

namespace slm::kernels {
namespace {

TEST(StreamRead, ChecksumCoversEveryByteForAnyThreadCount) {
    Buffer buffer = Buffer::allocate(1 << 20);
    for (size_t i = 0; i < buffer.size(); ++i) buffer.data()[i] = uint8_t(i * 131 + 7);
    ThreadPool pool(3);
    for (size_t bytes : {size_t(0), size_t(5), size_t(128), size_t(1000), size_t(1 << 20)}) {
        const uint64_t one = stream_read(buffer.data(), bytes, nullptr);
        EXPECT_EQ(stream_read(buffer.data(), bytes, &pool), one) << bytes;
        // Changing any single byte changes the checksum.
        if (bytes > 0) {
            buffer.data()[bytes - 1] ^= 0x10;
            EXPECT_NE(stream_read(buffer.data(), bytes, &pool), one) << bytes;
            buffer.data()[bytes - 1] ^= 0x10;
        }
    }
}

}  // namespace
}  // namespace slm::kernels
