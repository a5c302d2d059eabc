// Interop with the Python safetensors library: tests/fixtures/formats/python_all_dtypes.safetensors
// was written by safetensors.torch.save_file (make_safetensors_fixture.py, which also checked that
// Python loads our file with the right values: interop_report.json). We read every dtype's values
// from it, and our writer reproduces it byte for byte from the same tensors.
#include <slm/file_io.h>
#include <slm/half.h>
#include <slm/safetensors.h>

#include <gtest/gtest.h>

#include <cstring>

#include "testing/testing.h"

namespace slm {
namespace {

const float kFloats[6] = {-1.5f, 0.0f, 0.25f, 2.0f, 3.5f, -448.0f};
const int64_t kInts[6] = {-3, 0, 1, 2, 100, -100};
const uint8_t kU8[6] = {0, 1, 2, 3, 100, 255};
const uint8_t kBool[6] = {1, 0, 1, 1, 0, 0};

std::string fixture() { return test::fixtures_dir() + "/formats/python_all_dtypes.safetensors"; }

template <typename T>
std::vector<int64_t> ints_of(const Tensor& t) {
    std::vector<int64_t> out;
    for (int i = 0; i < 6; ++i) out.push_back(int64_t(t.as<T>()[i]));
    return out;
}

TEST(SafetensorsInterop, ReadsEveryDtypeWrittenByPython) {
    const auto f = SafetensorsFile::open(fixture());
    EXPECT_EQ(f->get_metadata("format"), "pt");
    for (const char* name : {"t_f32", "t_f16", "t_bf16", "t_f64", "t_f8_e4m3"}) {
        SCOPED_TRACE(name);
        const auto t = f->find_tensor(name);
        ASSERT_TRUE(t);
        EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
        float values[6];
        traits(t->dtype).to_float(t->data, values, 6);
        for (int i = 0; i < 6; ++i) EXPECT_EQ(values[i], kFloats[i]) << i;
    }
    const std::vector<int64_t> ints(kInts, kInts + 6);
    EXPECT_EQ(ints_of<int8_t>(*f->find_tensor("t_i8")), ints);
    EXPECT_EQ(ints_of<int16_t>(*f->find_tensor("t_i16")), ints);
    EXPECT_EQ(ints_of<int32_t>(*f->find_tensor("t_i32")), ints);
    EXPECT_EQ(ints_of<int64_t>(*f->find_tensor("t_i64")), ints);
    EXPECT_EQ(ints_of<uint8_t>(*f->find_tensor("t_u8")), (std::vector<int64_t>{0, 1, 2, 3, 100, 255}));
    EXPECT_EQ(ints_of<uint8_t>(*f->find_tensor("t_bool")), (std::vector<int64_t>{1, 0, 1, 1, 0, 0}));
    EXPECT_EQ(f->find_tensor("t_bool")->dtype, DType::boolean);
    EXPECT_EQ(f->find_tensor("t_f8_e4m3")->dtype, DType::f8_e4m3);
}

TEST(SafetensorsInterop, WriterReproducesThePythonFileByteForByte) {
    float f32[6];
    double f64[6];
    uint16_t f16[6], bf16[6];
    int8_t i8[6];
    int16_t i16[6];
    int32_t i32[6];
    const uint8_t f8[6] = {0xBC, 0x00, 0x28, 0x40, 0x46, 0xFE};  // e4m3fn encodings of kFloats
    for (int i = 0; i < 6; ++i) {
        f32[i] = kFloats[i];
        f64[i] = kFloats[i];
        f16[i] = f32_to_f16(kFloats[i]);
        bf16[i] = f32_to_bf16(kFloats[i]);
        i8[i] = int8_t(kInts[i]);
        i16[i] = int16_t(kInts[i]);
        i32[i] = int32_t(kInts[i]);
    }
    SafetensorsWriter w;
    w.set_metadata("format", "pt");
    const std::vector<int64_t> shape = {2, 3};
    w.add_tensor("t_f32", DType::f32, shape, f32);
    w.add_tensor("t_f16", DType::f16, shape, f16);
    w.add_tensor("t_bf16", DType::bf16, shape, bf16);
    w.add_tensor("t_f64", DType::f64, shape, f64);
    w.add_tensor("t_f8_e4m3", DType::f8_e4m3, shape, f8);
    w.add_tensor("t_i8", DType::i8, shape, i8);
    w.add_tensor("t_u8", DType::u8, shape, kU8);
    w.add_tensor("t_i16", DType::i16, shape, i16);
    w.add_tensor("t_i32", DType::i32, shape, i32);
    w.add_tensor("t_i64", DType::i64, shape, kInts);
    w.add_tensor("t_bool", DType::boolean, shape, kBool);
    EXPECT_EQ(w.serialize(), read_text_file(fixture()));
}

}  // namespace
}  // namespace slm
