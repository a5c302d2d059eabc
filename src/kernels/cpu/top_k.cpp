// top_k: a partial sort of each row's indices by (value descending, index ascending). It is the
// definition the GPU's selection (kernels/cuda/top_k.cu) is tested against, and the CPU's own
// path: a partial sort of one row costs what the sampler's top-k stage did before.
#include <slm/kernels.h>

#include <algorithm>
#include <numeric>
#include <vector>

namespace slm::kernels {

void top_k(const float* x, int64_t T, int64_t n, int k, int32_t* ids, float* values) {
    std::vector<int32_t> order(size_t(k > 1 ? n : 0));
    for (int64_t t = 0; t < T; ++t) {
        const float* row = x + t * n;
        if (k == 1) {  // greedy decoding's argmax: one pass, the first largest
            ids[t] = int32_t(std::max_element(row, row + n) - row);
            values[t] = row[ids[t]];
            continue;
        }
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [row](int32_t a, int32_t b) {
            return row[a] > row[b] || (row[a] == row[b] && a < b);
        });
        for (int i = 0; i < k; ++i) {
            ids[t * k + i] = order[size_t(i)];
            values[t * k + i] = row[order[size_t(i)]];
        }
    }
}

}  // namespace slm::kernels
