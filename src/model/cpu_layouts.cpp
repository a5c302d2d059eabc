// interleave_matrices: the copies made in parallel, then swapped in, in the matrices' order.
#include "model/cpu_layouts.h"

#include <slm/kernels.h>
#include <slm/thread_pool.h>

#include <optional>

namespace slm {

void interleave_matrices(const std::vector<Tensor*>& matrices, const TensorSource& source,
                         std::vector<OwnedTensor>& copies) {
    std::vector<std::optional<OwnedTensor>> made(matrices.size());
    ThreadPool pool;
    pool.for_each_chunk(int64_t(matrices.size()), [&](int64_t i) {
        const Tensor& W = *matrices[size_t(i)];
        made[size_t(i)] = kernels::interleave_for_matmul(W, [&](int64_t first, int64_t end) {
            Tensor rows = W;
            rows.data = W.row(first);
            rows.shape = {end - first, W.row_length()};
            source.release_pages(rows);
        });
    });
    for (size_t i = 0; i < matrices.size(); ++i)
        if (made[i]) {
            *matrices[i] = made[i]->tensor;
            copies.push_back(std::move(*made[i]));
        }
}

}  // namespace slm
