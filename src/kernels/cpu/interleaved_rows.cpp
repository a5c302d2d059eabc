// Conversion to and from the interleaved8 layout (interleaved_rows.h): one template over the block
// type, since q4_0 and q8_0 differ only in how many code bytes follow the scale.
#include "kernels/cpu/interleaved_rows.h"

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"

#include <slm/error.h>
#include <slm/kernels.h>

#include <cstring>

namespace slm::kernels {
namespace {

template <typename Block>
void interleave(const Tensor& W, void* dst) {
    constexpr size_t kSlices = sizeof(Block::qs) / 4;
    const int64_t groups = W.rows() / kInterleavedRows, nb = W.row_length() / 32;
    auto* out = static_cast<Interleaved8<Block>*>(dst);
    for (int64_t g = 0; g < groups; ++g) {
        const Block* rows[kInterleavedRows];
        for (int r = 0; r < kInterleavedRows; ++r) rows[r] = static_cast<const Block*>(W.row(g * kInterleavedRows + r));
        for (int64_t b = 0; b < nb; ++b, ++out) {
            for (int r = 0; r < kInterleavedRows; ++r) {
                const Block& blk = rows[r][b];
                out->d[r] = blk.d;
                for (size_t j = 0; j < kSlices; ++j) std::memcpy(out->qs + 32 * j + 4 * size_t(r), blk.qs + 4 * j, 4);
            }
        }
    }
}

template <typename Block>
void row_out(const Tensor& W, int64_t n, void* dst) {
    constexpr size_t kSlices = sizeof(Block::qs) / 4;
    const int64_t nb = W.row_length() / 32, r = n % kInterleavedRows;
    const auto* group = static_cast<const Interleaved8<Block>*>(W.data) + (n / kInterleavedRows) * nb;
    auto* out = static_cast<Block*>(dst);
    for (int64_t b = 0; b < nb; ++b) {
        out[b].d = group[b].d[r];
        for (size_t j = 0; j < kSlices; ++j) std::memcpy(out[b].qs + 4 * j, group[b].qs + 32 * j + 4 * size_t(r), 4);
    }
}

}  // namespace

bool has_interleaved_form(const Tensor& W) {
    return W.layout == Layout::rows && (W.dtype == DType::q4_0 || W.dtype == DType::q8_0) && W.ndim() == 2 &&
           W.rows() > 0 && W.rows() % kInterleavedRows == 0;
}

void interleaved_row(const Tensor& W, int64_t n, void* dst) {
    if (W.layout != Layout::interleaved8 || n < 0 || n >= W.rows()) fail("interleaved_row: row {} of a {} tensor", n, shape_string(W.shape));
    if (W.dtype == DType::q4_0) row_out<quant::BlockQ4_0>(W, n, dst);
    else if (W.dtype == DType::q8_0) row_out<quant::BlockQ8_0>(W, n, dst);
    else fail("interleaved_row: dtype {} has no interleaved layout", name(W.dtype));
}

std::optional<OwnedTensor> interleave_for_matmul(const Tensor& W) {
    // Only the AVX2 GEMM reads the layout; elsewhere the row dots keep the file's.
    if (!has_interleaved_form(W) || gemm_kernel(W.dtype, Layout::interleaved8, best_isa()).fn == nullptr) return std::nullopt;
    OwnedTensor t = OwnedTensor::zeros(W.dtype, W.shape);
    t.tensor.layout = Layout::interleaved8;
    if (W.dtype == DType::q4_0) interleave<quant::BlockQ4_0>(W, t.tensor.data);
    else interleave<quant::BlockQ8_0>(W, t.tensor.data);
    return t;
}

}  // namespace slm::kernels
