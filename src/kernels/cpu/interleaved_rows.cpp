// Conversion to and from the interleaved8 layout (interleaved_rows.h). Each type says how one
// file block of row r goes into (or comes out of) the group block; the walk over groups and
// blocks is one template.
#include "kernels/cpu/interleaved_rows.h"

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"

#include <slm/error.h>
#include <slm/kernels.h>

#include <algorithm>
#include <cstring>

namespace slm::kernels {
namespace {

using namespace quant;

// Slices of a row's code array (n bytes) to and from their places in the group's array.
void put_slices(const uint8_t* row_codes, size_t n, int r, uint8_t* group_codes) {
    for (size_t j = 0; j < n / 4; ++j) std::memcpy(group_codes + 32 * j + 4 * size_t(r), row_codes + 4 * j, 4);
}
void get_slices(const uint8_t* group_codes, size_t n, int r, uint8_t* row_codes) {
    for (size_t j = 0; j < n / 4; ++j) std::memcpy(row_codes + 4 * j, group_codes + 32 * j + 4 * size_t(r), 4);
}

template <typename BlockT>
struct Block32Layout {
    using Block = BlockT;
    using Group = Interleaved8<Block>;
    static void put(const Block& b, int r, Group& g) {
        g.d[r] = b.d;
        put_slices(reinterpret_cast<const uint8_t*>(b.qs), sizeof(b.qs), r, g.qs);
    }
    static void get(const Group& g, int r, Block& b) {
        b.d = g.d[r];
        get_slices(g.qs, sizeof(b.qs), r, reinterpret_cast<uint8_t*>(b.qs));
    }
};

struct Q5_0Layout {
    using Block = BlockQ5_0;
    using Group = BlockQ5_0x8;
    static void put(const Block& b, int r, Group& g) {
        g.d[r] = b.d;
        std::memcpy(&g.qh[r], b.qh, 4);
        put_slices(b.qs, sizeof(b.qs), r, g.qs);
    }
    static void get(const Group& g, int r, Block& b) {
        b.d = g.d[r];
        std::memcpy(b.qh, &g.qh[r], 4);
        get_slices(g.qs, sizeof(b.qs), r, b.qs);
    }
};

struct Q4_KLayout {
    using Block = BlockQ4_K;
    using Group = BlockQ4_Kx8;
    static void put(const Block& b, int r, Group& g) {
        g.d[r] = b.d, g.dmin[r] = b.dmin;
        for (int w = 0; w < 3; ++w) std::memcpy(&g.scale_words[w][r], b.scales + 4 * w, 4);
        put_slices(b.qs, sizeof(b.qs), r, g.qs);
    }
    static void get(const Group& g, int r, Block& b) {
        b.d = g.d[r], b.dmin = g.dmin[r];
        for (int w = 0; w < 3; ++w) std::memcpy(b.scales + 4 * w, &g.scale_words[w][r], 4);
        get_slices(g.qs, sizeof(b.qs), r, b.qs);
    }
};

struct Q6_KLayout {
    using Block = BlockQ6_K;
    using Group = BlockQ6_Kx8;
    static void put(const Block& b, int r, Group& g) {
        g.d[r] = b.d;
        for (int s = 0; s < QK_K / 16; ++s) g.scale_pairs[s / 2][r][s % 2] = b.scales[s];
        put_slices(b.ql, sizeof(b.ql), r, g.ql);
        put_slices(b.qh, sizeof(b.qh), r, g.qh);
    }
    static void get(const Group& g, int r, Block& b) {
        b.d = g.d[r];
        for (int s = 0; s < QK_K / 16; ++s) b.scales[s] = g.scale_pairs[s / 2][r][s % 2];
        get_slices(g.ql, sizeof(b.ql), r, b.ql);
        get_slices(g.qh, sizeof(b.qh), r, b.qh);
    }
};

// Groups in slices of 256 (2048 rows), copied(first row, end row) after each.
template <typename Layout_>
void interleave(const Tensor& W, void* dst, const std::function<void(int64_t, int64_t)>& copied) {
    using Block = typename Layout_::Block;
    constexpr int64_t kSliceGroups = 256;
    const int64_t groups = W.rows() / kInterleavedRows, nb = int64_t(W.row_bytes() / sizeof(Block));
    auto* out = static_cast<typename Layout_::Group*>(dst);
    for (int64_t g0 = 0; g0 < groups; g0 += kSliceGroups) {
        const int64_t g1 = std::min(groups, g0 + kSliceGroups);
        for (int64_t g = g0; g < g1; ++g)
            for (int r = 0; r < kInterleavedRows; ++r) {
                const auto* row = static_cast<const Block*>(W.row(g * kInterleavedRows + r));
                for (int64_t b = 0; b < nb; ++b) Layout_::put(row[b], r, out[g * nb + b]);
            }
        if (copied) copied(g0 * kInterleavedRows, g1 * kInterleavedRows);
    }
}

template <typename Layout_>
void row_out(const Tensor& W, int64_t n, int64_t first, int64_t count, void* dst) {
    using Block = typename Layout_::Block;
    const int64_t nb = int64_t(W.row_bytes() / sizeof(Block));
    const auto* group = static_cast<const typename Layout_::Group*>(W.data) + (n / kInterleavedRows) * nb;
    auto* out = static_cast<Block*>(dst);
    for (int64_t b = 0; b < count; ++b) Layout_::get(group[first + b], int(n % kInterleavedRows), out[b]);
}

// Calls fn(Layout_{}) with the layout of `t`; false when the type has none.
template <typename Fn>
bool with_layout(DType t, Fn&& fn) {
    switch (t) {
    case DType::q4_0: fn(Block32Layout<BlockQ4_0>{}); return true;
    case DType::q8_0: fn(Block32Layout<BlockQ8_0>{}); return true;
    case DType::q5_0: fn(Q5_0Layout{}); return true;
    case DType::q4_k: fn(Q4_KLayout{}); return true;
    case DType::q6_k: fn(Q6_KLayout{}); return true;
    default: return false;
    }
}

}  // namespace

bool has_interleaved_form(const Tensor& W) {
    return W.layout == Layout::rows && with_layout(W.dtype, [](auto) {}) && W.ndim() == 2 && W.rows() > 0 &&
           W.rows() % kInterleavedRows == 0;
}

void interleaved_row(const Tensor& W, int64_t n, void* dst) {
    interleaved_row_blocks(W, n, 0, W.row_length() / traits(W.dtype).block_size, dst);
}

void interleaved_row_blocks(const Tensor& W, int64_t n, int64_t first, int64_t count, void* dst) {
    if (W.layout != Layout::interleaved8 || n < 0 || n >= W.rows())
        fail("interleaved_row: no row {} in an interleaved {} tensor", n, shape_string(W.shape));
    if (first < 0 || count < 0 || (first + count) * traits(W.dtype).block_size > W.row_length())
        fail("interleaved_row: blocks [{}, {}) past a row of {} elements", first, first + count, W.row_length());
    if (!with_layout(W.dtype, [&](auto layout) { row_out<decltype(layout)>(W, n, first, count, dst); }))
        fail("interleaved_row: dtype {} has no interleaved layout", name(W.dtype));
}

std::optional<OwnedTensor> interleave_for_matmul(const Tensor& W, const std::function<void(int64_t, int64_t)>& copied) {
    // Only the AVX2 GEMM reads the layout; elsewhere the row dots keep the file's.
    if (!has_interleaved_form(W) || gemm_kernel(W.dtype, Layout::interleaved8, best_isa()).fn == nullptr) return std::nullopt;
    OwnedTensor t = OwnedTensor::zeros(W.dtype, W.shape);
    t.tensor.layout = Layout::interleaved8;
    with_layout(W.dtype, [&](auto layout) { interleave<decltype(layout)>(W, t.tensor.data, copied); });
    return t;
}

}  // namespace slm::kernels
