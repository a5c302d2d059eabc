// NF4 against bitsandbytes: tests/fixtures/quant/nf4 was written by bitsandbytes' own Python code
// (its PyTorch "default" backend, run by tests/fixtures/quant/make_nf4_fixtures.py), plus
// hand-checked code-book rounding.
#include "quant/blocks.h"
#include "quant/nf4.h"

#include <slm/dtype.h>
#include <slm/half.h>

#include "testing/testing.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace slm;
using namespace slm::quant;

namespace {

template <class T>
std::vector<T> read_array(const std::string& name) {
    const std::string path = test::fixtures_dir() + "/quant/nf4/" + name;
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    const std::vector<char> raw{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::vector<T> out(raw.size() / sizeof(T));
    std::memcpy(out.data(), raw.data(), out.size() * sizeof(T));
    return out;
}

template <class A, class B>
bool bitwise_equal(const A& a, const B& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0;
}

BnbNf4 state_from_fixture() {
    BnbNf4 t;
    t.packed = read_array<uint8_t>("nested.packed");
    t.absmax = read_array<uint8_t>("nested.absmax");
    t.nested_absmax = read_array<float>("nested.nested_absmax.f32");
    t.offset = read_array<float>("nested.offset.f32").at(0);
    t.n = int64_t(t.packed.size()) * 2;
    return t;
}

}  // namespace

TEST(Nf4, CodeBookIsBitsandbytesQuantMap) {
    EXPECT_TRUE(bitwise_equal(nf4_code_book(), read_array<float>("quant_map.f32")));
}

TEST(Nf4, DynamicMapIsBitsandbytesNestedQuantMap) {
    const auto expected = read_array<float>("nested_quant_map.f32");
    ASSERT_EQ(expected.size(), 256u);
    for (size_t i = 0; i < 256; ++i) EXPECT_EQ(dynamic_map_8bit()[i], expected[i]) << "entry " << i;
}

// Nearest level by midpoints, ties to the lower level; values from the QLoRA code book.
TEST(Nf4, HandCheckedRounding) {
    const auto& code = nf4_code_book();
    struct Case { float v; int index; };
    const Case cases[] = {
        {1.0f, 15}, {-1.0f, 0}, {0.0f, 7}, {0.5f, 12},      // 0.5 < (0.4407 + 0.5626) / 2
        {0.04f, 8}, {0.039f, 7},                           // around (0 + 0.0796) / 2 = 0.03979
        {-0.0455f, 7}, {-0.0456f, 6},                      // around (-0.0911 + 0) / 2 = -0.045525
        {0.9f, 15}, {0.86f, 14}, {-0.85f, 0}, {-0.84f, 1}, // around 0.8615 and -0.8481
    };
    for (const auto& c : cases) EXPECT_EQ(nearest_code_index(code.data(), 16, c.v), c.index) << c.v;
    // An exact midpoint goes to the lower level (torch.bucketize counts midpoints strictly below).
    const float mid = (code[9] + code[10]) / 2.0f;
    EXPECT_EQ(nearest_code_index(code.data(), 16, mid), 9);
}

TEST(Nf4, PackingPutsTheFirstValueInTheHighNibble) {
    std::vector<float> x(64, 0.0f);
    x[0] = 1.0f;   // code 15
    x[1] = -1.0f;  // code 0
    BlockNF4 b;
    quantize_nf4(x.data(), &b, 64);
    EXPECT_EQ(b.qs[0], 0xf0);
    EXPECT_EQ(b.qs[1], 0x77);  // two zeros: code 7
    EXPECT_EQ(f16_to_f32(b.absmax), 1.0f);
}

TEST(Nf4, CodesAndAbsmaxMatchBitsandbytes) {
    const auto x = read_array<float>("inputs.f32");
    const auto packed = read_array<uint8_t>("plain.packed");
    const auto absmax = read_array<float>("plain.absmax.f32");
    const int64_t n = int64_t(x.size());
    std::vector<BlockNF4> blocks(size_t(n / 64));
    quantize_nf4(x.data(), blocks.data(), n);
    for (size_t b = 0; b < blocks.size(); ++b) {
        ASSERT_EQ(0, std::memcmp(blocks[b].qs, packed.data() + b * 32, 32)) << "block " << b;
        ASSERT_EQ(blocks[b].absmax, f32_to_f16(absmax[b])) << "block " << b;
    }
    // Without double quantization bitsandbytes dequantizes to code * f32 absmax.
    const auto expected = read_array<float>("plain.dequant.f32");
    for (int64_t i = 0; i < n; ++i) {
        const uint8_t byte = packed[size_t(i / 2)];
        const float v = nf4_code_book()[size_t(i % 2 ? byte & 15 : byte >> 4)] * absmax[size_t(i / 64)];
        ASSERT_EQ(v, expected[size_t(i)]) << "value " << i;
    }
}

TEST(Nf4, DoubleQuantizationMatchesBitsandbytes) {
    const auto x = read_array<float>("inputs.f32");
    const BnbNf4 expected = state_from_fixture();
    // With bitsandbytes' offset (torch's float32 mean), every byte and scale is identical.
    const BnbNf4 got = quantize_bnb_nf4(x.data(), int64_t(x.size()), expected.offset);
    EXPECT_TRUE(bitwise_equal(got.packed, expected.packed));
    EXPECT_TRUE(bitwise_equal(got.absmax, expected.absmax));
    EXPECT_TRUE(bitwise_equal(got.nested_absmax, expected.nested_absmax));
    // Our own mean (summed in double, so exact to rounding) is within a few float ulps of torch's
    // float32 reduction (2 ulps here).
    const BnbNf4 own = quantize_bnb_nf4(x.data(), int64_t(x.size()));
    EXPECT_NEAR(own.offset, expected.offset, std::abs(expected.offset) * 5e-7f);
}

TEST(Nf4, DequantizeMatchesBitsandbytes) {
    const BnbNf4 t = state_from_fixture();
    const auto expected = read_array<float>("nested.dequant.f32");
    std::vector<float> got(size_t(t.n));
    dequantize_bnb_nf4(t, got.data());
    EXPECT_TRUE(bitwise_equal(got, expected));
}

TEST(Nf4, LayoutConversionKeepsCodesAndAbsmax) {
    const BnbNf4 t = state_from_fixture();
    std::vector<BlockNF4> blocks(size_t(t.n / 64));
    bnb_nf4_to_blocks(t, blocks.data());
    // Row form dequantizes like bitsandbytes up to the f16 rounding of each absmax.
    std::vector<float> row(size_t(t.n)), bnb(size_t(t.n));
    traits(DType::nf4).to_float(blocks.data(), row.data(), t.n);
    dequantize_bnb_nf4(t, bnb.data());
    for (size_t i = 0; i < row.size(); ++i) ASSERT_NEAR(row[i], bnb[i], std::abs(bnb[i]) * 1e-3f + 1e-12f) << i;
    // And back: the codes are unchanged, absmax re-quantized from the f16 values.
    const BnbNf4 back = blocks_to_bnb_nf4(blocks.data(), t.n);
    EXPECT_TRUE(bitwise_equal(back.packed, t.packed));
    const auto a = bnb_block_absmax(t), b = bnb_block_absmax(back);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], std::abs(a[i]) * 0.02f + 2e-3f) << "block " << i;
}
