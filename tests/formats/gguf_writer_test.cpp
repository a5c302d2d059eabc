// GgufWriter: files it writes read back identically, invalid values are refused, and every GGUF
// in ../shared survives a read + write unchanged, byte for byte.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "testing/testing.h"

namespace slm {
namespace {

using ::testing::HasSubstr;

GgufWriter sample_writer(const std::vector<float>& weights, const std::vector<uint8_t>& q8) {
    GgufWriter w;
    w.set("general.architecture", GgufWriter::str("llama"));
    w.set("llama.block_count", GgufWriter::u32(2));
    w.set("llama.rope.freq_base", GgufWriter::f32(10000.0f));
    w.set("tokenizer.ggml.add_bos_token", GgufWriter::boolean(true));
    w.set("tokenizer.ggml.tokens", GgufWriter::string_array({"<s>", "</s>", "a"}));
    w.set("tokenizer.ggml.scores", GgufWriter::f32_array({0.0f, -1.5f, 2.25f}));
    w.set("tokenizer.ggml.token_type", GgufWriter::i32_array({3, 3, 1}));
    w.set("big", GgufValue{GgufType::u64, uint64_t(1) << 50});
    w.set("negative", GgufValue{GgufType::i8, int64_t(-100)});
    GgufArray inner;
    inner.element_type = GgufType::u16;
    inner.items = {GgufValue{GgufType::u16, uint64_t(7)}};
    GgufArray outer;
    outer.element_type = GgufType::array;
    outer.items = {GgufValue{GgufType::array, inner}, GgufValue{GgufType::array, GgufArray{GgufType::u16, {}}}};
    w.set("nested", GgufValue{GgufType::array, outer});
    w.add_tensor("w", DType::f32, {2, 3, 4}, weights.data());
    w.add_tensor("q", DType::q8_0, {2, 32}, q8.data());
    return w;
}

TEST(GgufWriter, WrittenFileReadsBackIdentically) {
    std::vector<float> weights(24);
    for (size_t i = 0; i < weights.size(); ++i) weights[i] = float(i) * 0.5f;
    std::vector<uint8_t> q8(68);
    for (size_t i = 0; i < q8.size(); ++i) q8[i] = uint8_t(i * 7);
    const std::string path = test::temp_dir() + "/written.gguf";
    sample_writer(weights, q8).write(path);
    const auto f = GgufFile::open(path);
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->get_string("general.architecture"), "llama");
    EXPECT_EQ(f->find("llama.block_count")->type, GgufType::u32);
    EXPECT_EQ(f->get_int("llama.block_count"), 2);
    EXPECT_EQ(f->get_float("llama.rope.freq_base"), 10000.0);
    EXPECT_EQ(f->get_bool("tokenizer.ggml.add_bos_token"), true);
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens"), (std::vector<std::string>{"<s>", "</s>", "a"}));
    EXPECT_EQ(f->get_float_array("tokenizer.ggml.scores"), (std::vector<double>{0.0, -1.5, 2.25}));
    EXPECT_EQ(f->get_int_array("tokenizer.ggml.token_type"), (std::vector<int64_t>{3, 3, 1}));
    EXPECT_EQ(f->get_int("big"), int64_t(1) << 50);
    EXPECT_EQ(f->get_int("negative"), -100);
    const auto& nested = f->find("nested")->as_array("nested");
    ASSERT_EQ(nested.items.size(), 2u);
    EXPECT_EQ(nested.items[0].as_array("n").items[0].as_int("n"), 7);
    EXPECT_TRUE(nested.items[1].as_array("n").items.empty());
    const auto w = f->find_tensor("w");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3, 4}));
    EXPECT_EQ(std::memcmp(w->data, weights.data(), 96), 0);
    const auto q = f->find_tensor("q");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->dtype, DType::q8_0);
    EXPECT_EQ(std::memcmp(q->data, q8.data(), 68), 0);
    EXPECT_EQ(f->file_size() % 32, 0u);
    // serialize() gives the same bytes as the file.
    const std::string bytes = sample_writer(weights, q8).serialize();
    EXPECT_EQ(bytes, read_text_file(path));
}

TEST(GgufWriter, SetReplacesInPlaceAndRemoveDeletes) {
    GgufWriter w;
    w.set("a", GgufWriter::u32(1));
    w.set("b", GgufWriter::u32(2));
    w.set("a", GgufWriter::str("x"));
    w.remove("b");
    const std::string bytes = w.serialize();
    const auto f = GgufFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem");
    ASSERT_EQ(f->metadata().size(), 1u);
    EXPECT_EQ(f->metadata()[0].key, "a");
    EXPECT_EQ(f->get_string("a"), "x");
}

TEST(GgufWriter, HonoursGeneralAlignment) {
    std::vector<float> data(3, 1.0f);
    GgufWriter w;
    w.set("general.alignment", GgufWriter::u32(64));
    w.add_tensor("a", DType::f32, {3}, data.data());
    w.add_tensor("b", DType::f32, {3}, data.data());
    const std::string bytes = w.serialize();
    const auto f = GgufFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem");
    EXPECT_EQ(f->data_offset() % 64, 0u);
    EXPECT_EQ(f->find_info("b")->offset, 64u);
    EXPECT_EQ(bytes.size() % 64, 0u);
}

TEST(GgufWriter, RefusesInvalidValuesAndTensors) {
    const float data[32] = {};
    GgufWriter w;
    EXPECT_THROW(w.add_tensor("u", DType::u8, {4}, data), Error);          // no GGUF id
    EXPECT_THROW(w.add_tensor("q", DType::q8_0, {1, 16}, data), Error);    // partial block
    EXPECT_THROW(w.add_tensor("z", DType::f32, {0, 4}, data), Error);
    EXPECT_THROW(w.add_tensor("d", DType::f32, {1, 1, 1, 1, 1}, data), Error);
    w.add_tensor("t", DType::f32, {4}, data);
    EXPECT_THROW(w.add_tensor("t", DType::f32, {4}, data), Error);
    GgufWriter overflow;
    overflow.set("small", GgufValue{GgufType::u8, uint64_t(300)});
    try {
        overflow.serialize();
        FAIL();
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("'small'"));
    }
    GgufWriter mixed;
    mixed.set("arr", GgufValue{GgufType::array, GgufArray{GgufType::u32, {GgufWriter::str("x")}}});
    EXPECT_THROW(mixed.serialize(), Error);
    GgufWriter align;
    align.set("general.alignment", GgufWriter::u32(3));
    EXPECT_THROW(align.serialize(), Error);
    // A failed write leaves no file behind.
    const std::string path = test::temp_dir() + "/refused.gguf";
    EXPECT_THROW(overflow.write(path), Error);
    EXPECT_FALSE(file_exists(path));
}

TEST(GgufRoundTrip, SharedFilesAreByteIdentical) {
    SLM_REQUIRE_SHARED(shared);
    int checked = 0;
    for (const char* dir : {"/models", "/vocab-tests"}) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(shared + dir)) {
            if (entry.path().extension() != ".gguf") continue;
            const std::string path = entry.path().string();
            SCOPED_TRACE(path);
            const auto original = GgufFile::open(path);
            GgufWriter w;
            w.copy_from(*original);
            const std::string out = test::temp_dir() + "/roundtrip.gguf";
            w.write(out);
            const Buffer copy = Buffer::map_file(out);
            ASSERT_EQ(copy.size(), original->file_size());
            EXPECT_EQ(std::memcmp(copy.data(), original->data(), copy.size()), 0);
            ++checked;
        }
    }
    EXPECT_GE(checked, 9);
}

}  // namespace
}  // namespace slm
