// convert_rows: the row-parallel conversion gives exactly the reference conversion of the whole
// matrix, whatever the thread count and the source type.
#include "quant/convert_rows.h"

#include <slm/error.h>

#include <gtest/gtest.h>

#include <random>
#include <vector>

using namespace slm;

TEST(ConvertRows, SameBytesAsSerialReferenceForAnyThreadCount) {
    const int64_t rows = 37, len = 512;
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 0.05f);
    std::vector<float> x(size_t(rows * len));
    for (auto& v : x) v = dist(rng);
    std::vector<uint16_t> x16(x.size());
    traits(DType::f16).from_float(x.data(), x16.data(), int64_t(x.size()));
    std::vector<float> x16_as_f32(x.size());
    traits(DType::f16).to_float(x16.data(), x16_as_f32.data(), int64_t(x.size()));

    for (DType to : {DType::q4_k, DType::q6_k, DType::q8_0, DType::q5_1}) {
        std::vector<uint8_t> expected(row_bytes(to, len) * size_t(rows));
        traits(to).from_float(x.data(), expected.data(), int64_t(x.size()));
        std::vector<uint8_t> expected16(expected.size());
        traits(to).from_float(x16_as_f32.data(), expected16.data(), int64_t(x.size()));
        for (int threads : {1, 3}) {
            ThreadPool pool(threads);
            std::vector<uint8_t> got(expected.size());
            quant::convert_rows(DType::f32, x.data(), to, got.data(), rows, len, pool);
            EXPECT_EQ(got, expected) << name(to) << " threads=" << threads;
            quant::convert_rows(DType::f16, x16.data(), to, got.data(), rows, len, pool);
            EXPECT_EQ(got, expected16) << name(to) << " from f16, threads=" << threads;
        }
    }
}

TEST(ConvertRows, RejectsRowLengthNotMultipleOfBlock) {
    ThreadPool pool(1);
    std::vector<float> x(300);
    std::vector<uint8_t> out(1024);
    EXPECT_THROW(quant::convert_rows(DType::f32, x.data(), DType::q4_k, out.data(), 1, 300, pool), Error);
}
