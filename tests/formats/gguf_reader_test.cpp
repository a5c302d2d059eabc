// GgufFile reading: every metadata type, tensor views, alignment, strict rejection of malformed
// images (each error must name the file and the key or tensor), and the GGUF files in ../shared.
#include <slm/error.h>
#include <slm/gguf.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "formats/gguf_bytes.h"
#include "testing/testing.h"

namespace slm {
namespace {

using test::GgufBytes;
using ::testing::HasSubstr;

constexpr uint32_t kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8,
                   kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12;
constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ8_0 = 8;

std::unique_ptr<GgufFile> parse(const GgufBytes& b) { return GgufFile::parse(b.data(), b.size(), "test.gguf"); }

// Expects parsing to fail with a message naming the file and containing `needle`.
void expect_rejected(const GgufBytes& b, const std::string& needle) {
    try {
        parse(b);
        ADD_FAILURE() << "accepted an image that should fail with: " << needle;
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("test.gguf"));
        EXPECT_THAT(e.what(), HasSubstr(needle));
    }
}

TEST(GgufReader, ReadsEveryMetadataType) {
    GgufBytes b;
    b.header(0, 14);
    b.key("u8", kU8).put<uint8_t>(200);
    b.key("i8", kI8).put<int8_t>(-5);
    b.key("u16", kU16).put<uint16_t>(60000);
    b.key("i16", kI16).put<int16_t>(-30000);
    b.key("u32", kU32).put<uint32_t>(4000000000u);
    b.key("i32", kI32).put<int32_t>(-2000000000);
    b.key("f32", kF32).put<float>(0.5f);
    b.key("bool", kBool).put<uint8_t>(1);
    b.key("string", kString).str("héllo");
    b.key("u64", kU64).put<uint64_t>(1ull << 40);
    b.key("i64", kI64).put<int64_t>(-(1ll << 40));
    b.key("f64", kF64).put<double>(1e-300);
    b.key("strings", kArray).put<uint32_t>(kString).put<uint64_t>(2).str("a").str("bc");
    // An array of two arrays of i32: [[1, 2], [3]].
    b.key("nested", kArray).put<uint32_t>(kArray).put<uint64_t>(2);
    b.put<uint32_t>(kI32).put<uint64_t>(2).put<int32_t>(1).put<int32_t>(2);
    b.put<uint32_t>(kI32).put<uint64_t>(1).put<int32_t>(3);
    const auto f = parse(b);
    EXPECT_EQ(f->version(), 3u);
    ASSERT_EQ(f->metadata().size(), 14u);
    EXPECT_EQ(f->get_int("u8"), 200);
    EXPECT_EQ(f->get_int("i8"), -5);
    EXPECT_EQ(f->get_int("u16"), 60000);
    EXPECT_EQ(f->get_int("i16"), -30000);
    EXPECT_EQ(f->get_int("u32"), 4000000000ll);
    EXPECT_EQ(f->get_int("i32"), -2000000000);
    EXPECT_EQ(f->get_float("f32"), 0.5);
    EXPECT_EQ(f->get_bool("bool"), true);
    EXPECT_EQ(f->get_string("string"), "héllo");
    EXPECT_EQ(f->get_int("u64"), 1ll << 40);
    EXPECT_EQ(f->get_int("i64"), -(1ll << 40));
    EXPECT_EQ(f->get_float("f64"), 1e-300);
    EXPECT_EQ(f->get_float("u32"), 4e9);  // integers read as floats too
    EXPECT_EQ(f->get_string_array("strings"), (std::vector<std::string>{"a", "bc"}));
    const GgufArray& nested = f->find("nested")->as_array("nested");
    ASSERT_EQ(nested.items.size(), 2u);
    EXPECT_EQ(nested.element_type, GgufType::array);
    EXPECT_EQ(nested.items[0].as_array("n").items[1].as_int("n"), 2);
    EXPECT_EQ(nested.items[1].as_array("n").items[0].as_int("n"), 3);
    EXPECT_EQ(f->find("u16")->type, GgufType::u16);
    EXPECT_EQ(f->get_string("absent"), std::nullopt);
    EXPECT_TRUE(f->get_string_array("absent").empty());
    EXPECT_TRUE(f->tensor_names().empty());
}

TEST(GgufReader, WrongTypeReadNamesTheKey) {
    GgufBytes b;
    b.header(0, 1).key("general.name", kString).str("x");
    const auto f = parse(b);
    try {
        f->get_int("general.name");
        FAIL() << "read a string as an integer";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("general.name"));
        EXPECT_THAT(e.what(), HasSubstr("string"));
    }
    EXPECT_THROW(f->get_string_array("general.name"), Error);
}

TEST(GgufReader, ReadsVersion2) {
    GgufBytes b;
    b.header(0, 1, 2).key("k", kU32).put<uint32_t>(7);
    EXPECT_EQ(parse(b)->version(), 2u);
}

// Two tensors: an f32 [2, 3] (ne = {3, 2}) at offset 0 and a q8_0 [1, 32] at offset 32.
GgufBytes two_tensor_image(uint32_t alignment = 32) {
    GgufBytes b;
    b.header(2, 1).key("general.alignment", kU32).put<uint32_t>(alignment);
    b.tensor("a", {3, 2}, kGgmlF32, 0);
    b.tensor("b", {32, 1}, kGgmlQ8_0, alignment);
    b.pad(alignment);
    for (int i = 0; i < 6; ++i) b.put<float>(float(i));
    b.pad(alignment);
    b.zeros(34).pad(alignment);
    return b;
}

TEST(GgufReader, TensorsAreZeroCopyViewsWithRowMajorShape) {
    const GgufBytes b = two_tensor_image();
    const auto f = parse(b);
    EXPECT_EQ(f->tensor_names(), (std::vector<std::string>{"a", "b"}));
    const auto a = f->find_tensor("a");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->dtype, DType::f32);
    EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a->data, b.data() + f->data_offset());
    EXPECT_EQ(a->as<float>()[5], 5.0f);
    EXPECT_EQ(f->data_offset() % 32, 0u);
    const auto* info = f->find_info("b");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->dtype, DType::q8_0);
    EXPECT_EQ(info->nbytes, 34u);
    EXPECT_EQ(info->offset, 32u);
    EXPECT_EQ(f->find_tensor("c"), std::nullopt);
}

TEST(GgufReader, HonoursGeneralAlignment) {
    const GgufBytes b = two_tensor_image(64);
    const auto f = parse(b);
    EXPECT_EQ(f->alignment(), 64u);
    EXPECT_EQ(f->data_offset() % 64, 0u);
    EXPECT_EQ(f->find_info("b")->offset, 64u);
}

TEST(GgufReader, RejectsBadMagicAndVersions) {
    GgufBytes b;
    b.bytes = "GGML";
    b.put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(0);
    expect_rejected(b, "not a GGUF file");
    expect_rejected(GgufBytes().header(0, 0, 1), "version 1");
    expect_rejected(GgufBytes().header(0, 0, 4), "unsupported GGUF version 4");
    expect_rejected(GgufBytes().header(0, 0, 0x03000000), "big-endian");
    GgufBytes tiny;
    tiny.bytes = "GG";
    expect_rejected(tiny, "not a GGUF file");
}

TEST(GgufReader, RejectsHostileCountsWithoutAllocating) {
    expect_rejected(GgufBytes().header(0, 1ull << 60), "metadata entry count");
    expect_rejected(GgufBytes().header(1ull << 60, 0), "tensor info count");
    GgufBytes arr;
    arr.header(0, 1).key("tokens", kArray).put<uint32_t>(kString).put<uint64_t>(1ull << 60);
    expect_rejected(arr, "metadata key 'tokens': array element count");
    GgufBytes nested;
    nested.header(0, 1).key("deep", kArray).put<uint32_t>(kArray).put<uint64_t>(1ull << 58);
    expect_rejected(nested, "'deep'");
}

TEST(GgufReader, RejectsStringsPastEndOfFile) {
    GgufBytes key;
    key.header(0, 1).put<uint64_t>(1000).bytes += "short";
    expect_rejected(key, "key of metadata entry #0");
    GgufBytes value;
    value.header(0, 1).key("general.name", kString).put<uint64_t>(~0ull);
    expect_rejected(value, "general.name");
    GgufBytes name;
    name.header(1, 0).put<uint64_t>(1ull << 62).zeros(64);
    expect_rejected(name, "name of tensor #0");
}

TEST(GgufReader, RejectsUnknownMetadataTypeAndBadValues) {
    GgufBytes b;
    b.header(0, 1).key("weird", 13).put<uint32_t>(0);
    expect_rejected(b, "metadata key 'weird': unknown value type id 13");
    GgufBytes elem;
    elem.header(0, 1).key("arr", kArray).put<uint32_t>(99).put<uint64_t>(0);
    expect_rejected(elem, "metadata key 'arr': unknown value type id 99");
    GgufBytes boolean;
    boolean.header(0, 1).key("flag", kBool).put<uint8_t>(2);
    expect_rejected(boolean, "'flag': bool value 2");
    GgufBytes dup;
    dup.header(0, 2).key("k", kU8).put<uint8_t>(1).key("k", kU8).put<uint8_t>(2);
    expect_rejected(dup, "metadata key 'k' appears twice");
    GgufBytes deep;
    deep.header(0, 1).key("deep", kArray);
    for (int i = 0; i < 20; ++i) deep.put<uint32_t>(kArray).put<uint64_t>(1);
    deep.put<uint32_t>(kU8).put<uint64_t>(0);
    expect_rejected(deep, "nested deeper");
}

TEST(GgufReader, RejectsBadAlignment) {
    GgufBytes zero;
    zero.header(0, 1).key("general.alignment", kU32).put<uint32_t>(0);
    expect_rejected(zero, "'general.alignment' is 0");
    GgufBytes odd;
    odd.header(0, 1).key("general.alignment", kU32).put<uint32_t>(48);
    expect_rejected(odd, "power of two");
    GgufBytes type;
    type.header(0, 1).key("general.alignment", kU64).put<uint64_t>(32);
    expect_rejected(type, "must be a u32");
}

// An image with one tensor info and `data_bytes` bytes of data after the aligned header.
GgufBytes one_tensor(std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data_bytes) {
    GgufBytes b;
    b.header(1, 0).tensor("blk.0.attn_q.weight", std::move(ne), type, offset).pad(32).zeros(data_bytes);
    return b;
}

TEST(GgufReader, RejectsMalformedTensorInfos) {
    expect_rejected(one_tensor({1, 1, 1, 1, 1}, kGgmlF32, 0, 32), "tensor 'blk.0.attn_q.weight': 5 dimensions");
    expect_rejected(one_tensor({}, kGgmlF32, 0, 32), "tensor 'blk.0.attn_q.weight': 0 dimensions");
    expect_rejected(one_tensor({4, 0}, kGgmlF32, 0, 32), "dimension 1 is 0");
    expect_rejected(one_tensor({4, ~0ull}, kGgmlF32, 0, 32), "dimension 1 is -1");
    expect_rejected(one_tensor({1ull << 40, 1ull << 40}, kGgmlF32, 0, 32), "overflows");
    expect_rejected(one_tensor({4}, 77, 0, 32), "unknown tensor type 77 in tensor 'blk.0.attn_q.weight'");
    expect_rejected(one_tensor({256}, 16, 0, 512), "unsupported tensor type 16 (iq2_xxs) in tensor 'blk.0.attn_q.weight'");
    expect_rejected(one_tensor({48}, kGgmlQ8_0, 0, 64), "row length 48 is not a multiple of the q8_0 block size 32");
    expect_rejected(one_tensor({4}, kGgmlF32, 8, 64), "data offset 8 is not a multiple of the alignment 32");
    expect_rejected(one_tensor({64}, kGgmlF32, 0, 128), "runs past the end of the file");
    expect_rejected(one_tensor({4}, kGgmlF32, 1ull << 63, 64), "runs past the end of the file");
}

TEST(GgufReader, RejectsOverlappingAndDuplicateTensors) {
    GgufBytes overlap;
    overlap.header(2, 0).tensor("x", {16}, kGgmlF32, 0).tensor("y", {16}, kGgmlF16, 32).pad(32).zeros(128);
    expect_rejected(overlap, "tensors 'x' and 'y' overlap");
    GgufBytes dup;
    dup.header(2, 0).tensor("x", {8}, kGgmlF32, 0).tensor("x", {8}, kGgmlF32, 32).pad(32).zeros(64);
    expect_rejected(dup, "tensor 'x' appears twice");
}

TEST(GgufReader, RejectsEveryTruncationOfAValidImage) {
    const GgufBytes full = two_tensor_image();
    // The last tensor ends 34 bytes into its block; anything shorter loses data or header.
    const size_t needed = parse(full)->data_offset() + 32 + 34;
    for (size_t n = 0; n < needed; ++n) {
        GgufBytes cut;
        cut.bytes = full.bytes.substr(0, n);
        EXPECT_THROW(parse(cut), Error) << "truncated to " << n << " bytes";
    }
}

TEST(GgufReader, OpenNamesTheMissingFile) {
    try {
        GgufFile::open("/nonexistent/model.gguf");
        FAIL();
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("/nonexistent/model.gguf"));
    }
}

std::vector<std::string> shared_gguf_files(const std::string& shared) {
    std::vector<std::string> files;
    for (const char* dir : {"/models", "/vocab-tests"}) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(shared + dir))
            if (entry.path().extension() == ".gguf") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

TEST(GgufReader, OpensEverySharedFile) {
    SLM_REQUIRE_SHARED(shared);
    const auto files = shared_gguf_files(shared);
    EXPECT_GE(files.size(), 9u);
    for (const auto& path : files) {
        SCOPED_TRACE(path);
        const auto f = GgufFile::open(path);
        EXPECT_TRUE(f->get_string("general.architecture"));
        EXPECT_FALSE(f->get_string_array("tokenizer.ggml.tokens").empty());
        for (const auto& info : f->tensor_infos()) {
            const auto t = f->find_tensor(info.name);
            ASSERT_TRUE(t);
            EXPECT_EQ(t->nbytes(), info.nbytes);
            EXPECT_LE(f->data_offset() + info.offset + info.nbytes, f->file_size());
        }
    }
}

TEST(GgufReader, ReadsTheSharedLlamaModel) {
    SLM_REQUIRE_SHARED(shared);
    const auto f = GgufFile::open(shared + "/models/tinyllama-spm-13m/tinyllama-spm-13m-q8_0.gguf");
    EXPECT_EQ(f->get_string("general.architecture"), "llama");
    EXPECT_EQ(f->get_int("llama.block_count"), 6);
    EXPECT_EQ(f->get_int("llama.embedding_length"), 256);
    EXPECT_EQ(f->get_int("llama.attention.head_count_kv"), 4);
    EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 32000u);
    EXPECT_EQ(f->get_float_array("tokenizer.ggml.scores").size(), 32000u);
    EXPECT_EQ(f->get_int_array("tokenizer.ggml.token_type").size(), 32000u);
    EXPECT_EQ(f->tensor_infos().size(), 56u);
    const auto* q = f->find_info("blk.0.attn_q.weight");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->shape, (std::vector<int64_t>{256, 256}));
    const auto* up = f->find_info("blk.0.ffn_up.weight");
    ASSERT_TRUE(up);
    EXPECT_EQ(up->shape, (std::vector<int64_t>{704, 256}));  // [out, in]
}

}  // namespace
}  // namespace slm
