// SafetensorsFile / ShardedSafetensors / SafetensorsWriter: every dtype round-trips, the writer's
// bytes match the Python library's layout (and the shared models byte for byte), malformed files
// are refused with errors naming file and tensor, pytorch_model.bin is refused with advice.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/safetensors.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "testing/testing.h"

namespace slm {
namespace {

using ::testing::HasSubstr;

// A safetensors image from a header text and `data_bytes` bytes of data (0, 1, 2, …).
std::string image(const std::string& header, size_t data_bytes) {
    const uint64_t n = header.size();
    std::string out(reinterpret_cast<const char*>(&n), 8);
    out += header;
    for (size_t i = 0; i < data_bytes; ++i) out.push_back(char(i));
    return out;
}

std::unique_ptr<SafetensorsFile> parse(const std::string& bytes) {
    return SafetensorsFile::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.safetensors");
}

void expect_rejected(const std::string& bytes, const std::string& needle) {
    try {
        parse(bytes);
        ADD_FAILURE() << "accepted a file that should fail with: " << needle;
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("test.safetensors"));
        EXPECT_THAT(e.what(), HasSubstr(needle));
    }
}

TEST(SafetensorsWriter, LayoutMatchesThePythonLibrary) {
    // Facts from the safetensors format: u64 header length, compact JSON, tensor data after it,
    // header padded with spaces to a multiple of 8.
    const float values[6] = {0, 1, 2, 3, 4, 5};
    SafetensorsWriter w;
    w.add_tensor("attn.0", DType::f32, {1, 2, 3}, values);
    const std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
    ASSERT_EQ(header.size(), 64u);
    std::string expected = image(header, 0);
    expected.append(reinterpret_cast<const char*>(values), 24);
    EXPECT_EQ(w.serialize(), expected);

    SafetensorsWriter meta;
    meta.set_metadata("framework", "pt");
    EXPECT_EQ(meta.serialize(), image(R"({"__metadata__":{"framework":"pt"}})" + std::string(5, ' '), 0));
    EXPECT_EQ(SafetensorsWriter().serialize(), image("{}      ", 0));
}

TEST(SafetensorsWriter, OrdersByDescendingAlignmentThenName) {
    const uint8_t bytes[16] = {};
    SafetensorsWriter w;
    w.add_tensor("b_bool", DType::boolean, {1}, bytes);
    w.add_tensor("z_f32", DType::f32, {1}, bytes);
    w.add_tensor("a_f16", DType::f16, {1}, bytes);
    w.add_tensor("a_f32", DType::f32, {1}, bytes);
    w.add_tensor("i64", DType::i64, {1}, bytes);
    const std::string out = w.serialize();
    const auto f = parse(out);
    EXPECT_EQ(f->tensor_names(), (std::vector<std::string>{"i64", "a_f32", "z_f32", "a_f16", "b_bool"}));
}

TEST(SafetensorsFile, EveryDtypeRoundTrips) {
    std::vector<uint8_t> bytes(64);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 3 + 1);
    const std::vector<DType> dtypes = {DType::f32, DType::f16, DType::bf16, DType::f64, DType::i8, DType::u8,
                                       DType::i16, DType::i32, DType::i64, DType::boolean, DType::f8_e4m3};
    SafetensorsWriter w;
    w.set_metadata("format", "pt");
    for (DType t : dtypes) w.add_tensor(std::string(name(t)), t, {2, 3}, bytes.data());
    w.add_tensor("scalar", DType::f32, {}, bytes.data());
    w.add_tensor("empty", DType::f32, {0, 3}, bytes.data());
    const std::string path = test::temp_dir() + "/all.safetensors";
    w.write(path);
    const auto f = SafetensorsFile::open(path);
    EXPECT_EQ(f->get_metadata("format"), "pt");
    EXPECT_EQ(f->data_offset() % 8, 0u);
    for (DType t : dtypes) {
        SCOPED_TRACE(name(t));
        const auto tensor = f->find_tensor(std::string(name(t)));
        ASSERT_TRUE(tensor);
        EXPECT_EQ(tensor->dtype, t);
        EXPECT_EQ(tensor->shape, (std::vector<int64_t>{2, 3}));
        EXPECT_EQ(std::memcmp(tensor->data, bytes.data(), tensor->nbytes()), 0);
    }
    EXPECT_EQ(f->find_tensor("scalar")->shape, std::vector<int64_t>{});
    EXPECT_EQ(f->find_info("empty")->nbytes(), 0u);
    EXPECT_EQ(f->find_tensor("absent"), std::nullopt);
    EXPECT_EQ(w.serialize(), read_text_file(path));
}

TEST(SafetensorsWriter, RefusesInvalidTensors) {
    const uint8_t bytes[8] = {};
    SafetensorsWriter w;
    EXPECT_THROW(w.add_tensor("q", DType::q8_0, {32}, bytes), Error);
    EXPECT_THROW(w.add_tensor("__metadata__", DType::f32, {1}, bytes), Error);
    EXPECT_THROW(w.add_tensor("n", DType::f32, {-1}, bytes), Error);
    w.add_tensor("x", DType::f32, {1}, bytes);
    EXPECT_THROW(w.add_tensor("x", DType::f32, {1}, bytes), Error);
    SafetensorsWriter bad_utf8;
    bad_utf8.add_tensor("\xff", DType::f32, {1}, bytes);
    EXPECT_THROW(bad_utf8.serialize(), Error);
}

TEST(SafetensorsFile, RejectsMalformedFiles) {
    expect_rejected("abc", "too short");
    std::string huge(8, '\0');
    huge[5] = 1;  // 2^40
    expect_rejected(huge, "exceeds the 100 MB limit");
    expect_rejected(image("{}", 0).substr(0, 9), "runs past the end of the file");
    expect_rejected(image("{\"a\":", 0), "not valid JSON");
    expect_rejected(image("[1,2]", 0), "not a JSON object");
    expect_rejected(image(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4), "tensor 'w': missing or non-string \"dtype\"");
    expect_rejected(image(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4), "tensor 'w': missing or non-array \"shape\"");
    expect_rejected(image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4), "\"data_offsets\" must be");
    expect_rejected(image(R"({"w":{"dtype":"F4","shape":[1],"data_offsets":[0,1]}})", 1), "tensor 'w': unsupported dtype 'F4'");
    expect_rejected(image(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "shape holds -1");
    expect_rejected(image(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4), "shape holds 1.5");
    expect_rejected(image(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4), "overflows");
    expect_rejected(image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4), "hold 4 bytes but F32 × shape [2] needs 8");
    expect_rejected(image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8), "end before they begin");
    expect_rejected(image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 2), "run past the end of the file");
    expect_rejected(image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 6), "trailing data");
    expect_rejected(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
                    "tensors 'a' and 'b' overlap");
    expect_rejected(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "gap");
    expect_rejected(image(R"({"__metadata__":{"format":1}})", 0), "__metadata__ entry 'format' is not a string");
    expect_rejected(image(R"({"__metadata__":[]})", 0), "__metadata__ is not an object");
}

// Writes a two-shard model and its index into `dir`.
void write_sharded(const std::string& dir, const std::vector<float>& a, const std::vector<float>& b) {
    std::filesystem::create_directories(dir);
    SafetensorsWriter s1, s2;
    s1.add_tensor("model.a", DType::f32, {2, 2}, a.data());
    s2.add_tensor("model.b", DType::f32, {4}, b.data());
    s1.write(dir + "/model-00001-of-00002.safetensors");
    s2.write(dir + "/model-00002-of-00002.safetensors");
    write_file_atomic(dir + "/model.safetensors.index.json",
                      R"({"metadata":{"total_size":32},"weight_map":{"model.b":"model-00002-of-00002.safetensors",)"
                      R"("model.a":"model-00001-of-00002.safetensors"}})");
}

TEST(ShardedSafetensors, JoinsShardsThroughTheIndex) {
    const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7, 8};
    const std::string dir = test::temp_dir() + "/sharded";
    write_sharded(dir, a, b);
    const auto source = open_safetensors(dir);
    EXPECT_EQ(source->tensor_names(), (std::vector<std::string>{"model.a", "model.b"}));
    const auto tb = source->find_tensor("model.b");
    ASSERT_TRUE(tb);
    EXPECT_EQ(tb->as<float>()[3], 8.0f);
    EXPECT_EQ(source->find_tensor("model.a")->shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(source->find_tensor("model.c"), std::nullopt);
    const auto sharded = ShardedSafetensors::open(dir + "/model.safetensors.index.json");
    EXPECT_EQ(sharded->shards().size(), 2u);
    EXPECT_EQ(sharded->locate("model.b").first->path(), dir + "/model-00002-of-00002.safetensors");
}

TEST(ShardedSafetensors, RejectsIndexesThatDisagreeWithTheirShards) {
    const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7, 8};
    const std::string dir = test::temp_dir() + "/bad-index";
    write_sharded(dir, a, b);
    const std::string index = dir + "/model.safetensors.index.json";
    auto expect_error = [&](const std::string& text, const std::string& needle) {
        write_file_atomic(index, text);
        try {
            ShardedSafetensors::open(index);
            ADD_FAILURE() << "accepted: " << text;
        } catch (const Error& e) {
            EXPECT_THAT(e.what(), HasSubstr(index));
            EXPECT_THAT(e.what(), HasSubstr(needle));
        }
    };
    expect_error(R"({"weight_map":{"model.a":"model-00002-of-00002.safetensors"}})", "tensor 'model.a' is listed in shard");
    expect_error(R"({"weight_map":{"model.a":"missing.safetensors"}})", "missing.safetensors");
    expect_error(R"({"weight_map":{"model.a":"../x.safetensors"}})", "expected a file beside the index");
    expect_error(R"({"metadata":{}})", "missing \"weight_map\"");
    expect_error("not json", "not a valid JSON object");
}

TEST(OpenSafetensors, RefusesPytorchBinWithAdvice) {
    const std::string dir = test::temp_dir() + "/pytorch";
    std::filesystem::create_directories(dir);
    write_file_atomic(dir + "/pytorch_model.bin", "PK");
    for (const std::string& path : {dir, dir + "/pytorch_model.bin"}) {
        try {
            open_safetensors(path);
            ADD_FAILURE();
        } catch (const Error& e) {
            EXPECT_THAT(e.what(), HasSubstr("pytorch_model.bin"));
            EXPECT_THAT(e.what(), HasSubstr("convert the model to safetensors"));
        }
    }
    const std::string empty = test::temp_dir() + "/empty-model";
    std::filesystem::create_directories(empty);
    EXPECT_THROW(open_safetensors(empty), Error);
}

TEST(SafetensorsRoundTrip, SharedModelsAreByteIdentical) {
    SLM_REQUIRE_SHARED(shared);
    for (const char* model : {"tinyllama-spm-13m", "tinyqwen2-bpe-11m"}) {
        const std::string path = shared + "/models/" + model + "/model.safetensors";
        SCOPED_TRACE(path);
        const auto f = SafetensorsFile::open(path);
        EXPECT_EQ(f->get_metadata("format"), "pt");
        EXPECT_GT(f->tensor_infos().size(), 50u);
        SafetensorsWriter w;
        for (const auto& [k, v] : f->metadata()) w.set_metadata(k, v);
        for (const auto& info : f->tensor_infos()) w.add_tensor(info.name, info.dtype, info.shape, f->find_tensor(info.name)->data);
        const std::string out = test::temp_dir() + "/copy.safetensors";
        w.write(out);
        const Buffer copy = Buffer::map_file(out);
        const Buffer original = Buffer::map_file(path);
        ASSERT_EQ(copy.size(), original.size());
        EXPECT_EQ(std::memcmp(copy.data(), original.data(), copy.size()), 0);
    }
}

}  // namespace
}  // namespace slm
