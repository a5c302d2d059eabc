// Bit-exact agreement with llama.cpp's quantizers: tests/fixtures/quant holds fixed input rows and,
// per type, the bytes gguf-py / ggml's C reference quantize them to and the floats they dequantize
// those bytes to (made by tests/fixtures/quant/make_quant_fixtures.py; sources in manifest.json).
#include <slm/dtype.h>

#include "testing/testing.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace slm;

namespace {

std::vector<char> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string fixture(const std::string& name) { return test::fixtures_dir() + "/quant/" + name; }

// Row names in the order make_quant_fixtures.py writes them (256 values each).
const char* const kRowNames[] = {
    "gaussian", "gaussian_small", "uniform", "zeros", "one_outlier", "constant_positive",
    "constant_negative", "tiny", "negative_only", "positive_only", "heavy_tail",
    "mixed_group_scales", "level_grid", "large", "sparse", "half_ulp_ties",
};
constexpr int64_t kRow = 256;

class GgmlReference : public ::testing::TestWithParam<DType> {
protected:
    void SetUp() override {
        const auto raw = read_bytes(fixture("inputs.f32"));
        inputs_.resize(raw.size() / 4);
        std::memcpy(inputs_.data(), raw.data(), raw.size());
        ASSERT_EQ(inputs_.size(), std::size(kRowNames) * size_t(kRow));
    }
    std::vector<float> inputs_;
};

TEST_P(GgmlReference, QuantizeGivesIdenticalBytes) {
    const DType type = GetParam();
    const auto& t = traits(type);
    const auto expected = read_bytes(fixture(std::string(t.name) + ".q"));
    const size_t per_row = row_bytes(type, kRow);
    ASSERT_EQ(expected.size(), per_row * std::size(kRowNames));
    std::vector<char> got(expected.size());
    t.from_float(inputs_.data(), got.data(), int64_t(inputs_.size()));
    for (size_t r = 0; r < std::size(kRowNames); ++r)
        EXPECT_EQ(0, std::memcmp(got.data() + r * per_row, expected.data() + r * per_row, per_row))
            << t.name << " row '" << kRowNames[r] << "'";
}

TEST_P(GgmlReference, DequantizeGivesIdenticalFloats) {
    const DType type = GetParam();
    const auto& t = traits(type);
    const auto q = read_bytes(fixture(std::string(t.name) + ".q"));
    const auto expected = read_bytes(fixture(std::string(t.name) + ".f32"));
    ASSERT_EQ(expected.size(), inputs_.size() * 4);
    std::vector<float> got(inputs_.size());
    t.to_float(q.data(), got.data(), int64_t(got.size()));
    for (size_t r = 0; r < std::size(kRowNames); ++r)
        EXPECT_EQ(0, std::memcmp(got.data() + r * kRow, expected.data() + r * kRow * 4, kRow * 4))
            << t.name << " row '" << kRowNames[r] << "'";
}

INSTANTIATE_TEST_SUITE_P(AllGgmlTypes, GgmlReference,
                         ::testing::Values(DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1, DType::q8_0,
                                           DType::q8_1, DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k,
                                           DType::q6_k, DType::q8_k, DType::iq4_nl),
                         [](const auto& info) { return std::string(name(info.param)); });

}  // namespace
