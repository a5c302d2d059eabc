#include <slm/dtype.h>
#include <slm/half.h>

#include <gtest/gtest.h>

#include <cmath>

using namespace slm;

TEST(DType, TableRowsAreConsistent) {
    for (int i = 0; i < int(DType::count_); ++i) {
        const auto& t = traits(DType(i));
        EXPECT_EQ(dtype_from_name(t.name), DType(i)) << t.name;
        if (t.gguf_id >= 0) {
            EXPECT_EQ(dtype_from_gguf(uint32_t(t.gguf_id)), DType(i)) << t.name;
        }
        if (!t.safetensors.empty()) {
            EXPECT_EQ(dtype_from_safetensors(t.safetensors), DType(i)) << t.name;
        }
        EXPECT_GT(t.block_size, 0);
        EXPECT_GT(t.block_bytes, 0);
    }
}

TEST(DType, KnowsGgufIdsOfLlamaCpp) {
    EXPECT_EQ(dtype_from_gguf(8), DType::q8_0);
    EXPECT_EQ(dtype_from_gguf(12), DType::q4_k);
    EXPECT_EQ(dtype_from_gguf(30), DType::bf16);
    EXPECT_FALSE(dtype_from_gguf(16).has_value());  // iq2_xxs: not supported
    EXPECT_EQ(row_bytes(DType::q4_k, 512), 288u);
}

TEST(Half, F16RoundTripsEveryHalfValue) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = f16_to_f32(uint16_t(h));
        if (std::isnan(f)) continue;
        EXPECT_EQ(f32_to_f16(f), h) << h;
    }
}

TEST(Half, F16RoundsToNearestEven) {
    EXPECT_EQ(f32_to_f16(1.0f + 1.0f / 2048), f32_to_f16(1.0f));             // tie, even stays
    EXPECT_EQ(f32_to_f16(1.0f + 3.0f / 2048), uint16_t(f32_to_f16(1.0f) + 2)); // tie, odd rounds up
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);                                    // overflows to inf
    EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));                       // smallest subnormal
}

TEST(Half, Bf16RoundsToNearestEven) {
    EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f)), 1.0f);
    EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie to even
    EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}
