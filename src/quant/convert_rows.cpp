// Row-parallel type conversion through f32, using the DType table's reference conversions.
#include "quant/convert_rows.h"

#include <slm/error.h>

#include <vector>

namespace slm::quant {

void convert_rows(DType from, const void* src, DType to, void* dst, int64_t rows, int64_t row_length, ThreadPool& pool) {
    const auto& in = traits(from);
    const auto& out = traits(to);
    if (!in.to_float) fail("cannot convert from {}: no conversion to float", in.name);
    if (!out.from_float) fail("cannot convert to {}: no conversion from float", out.name);
    if (row_length % in.block_size != 0 || row_length % out.block_size != 0)
        fail("row length {} is not a multiple of the block sizes of {} ({}) and {} ({})", row_length, in.name,
             in.block_size, out.name, out.block_size);
    const size_t in_row = row_bytes(from, row_length), out_row = row_bytes(to, row_length);
    const auto* src_bytes = static_cast<const uint8_t*>(src);
    auto* dst_bytes = static_cast<uint8_t*>(dst);
    // Each block is quantized on its own, so rows can be split among threads freely.
    pool.parallel_for(rows, [&](int64_t begin, int64_t end) {
        std::vector<float> scratch(from == DType::f32 ? 0 : size_t(row_length));
        for (int64_t r = begin; r < end; ++r) {
            const float* row = reinterpret_cast<const float*>(src_bytes + size_t(r) * in_row);
            if (from != DType::f32) {
                in.to_float(src_bytes + size_t(r) * in_row, scratch.data(), row_length);
                row = scratch.data();
            }
            out.from_float(row, dst_bytes + size_t(r) * out_row, row_length);
        }
    }, 1);
}

}  // namespace slm::quant
