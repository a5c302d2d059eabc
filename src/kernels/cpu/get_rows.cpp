// Embedding lookup: rows converted by the DType table's to_float, tokens split over the pool.
#include <slm/kernels.h>

#include "kernels/cpu/parallel.h"

namespace slm::kernels {

void get_rows(const Tensor& E, const int32_t* ids, int64_t T, float* out, ThreadPool* pool) {
    const int64_t D = E.row_length();
    parallel_rows(pool, T, [&](int64_t begin, int64_t end) { ref::get_rows(E, ids + begin, end - begin, out + begin * D); },
                  min_rows_per_chunk(D));
}

}  // namespace slm::kernels
