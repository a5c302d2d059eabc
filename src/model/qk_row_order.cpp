// llama.cpp's q/k row permutation (convert_hf_to_gguf.py's `permute`), for matrices that must
// follow a permuted base: the LoRA B of q_proj/k_proj at inference, in training and in GGUF LoRA files.
#include "model/qk_row_order.h"

#include "model/architecture.h"

#include <cstring>

namespace slm::model {

bool qk_rows_permuted(const ModelFiles& files) {
    const Architecture& arch = find_architecture(files.config.architecture, files.path);
    return files.naming == TensorNaming::gguf && arch.gguf_rope != arch.hf_rope;
}

std::vector<float> permute_head_rows(const std::vector<float>& m, int64_t rows, int64_t cols, int64_t head_dim,
                                     bool to_gguf) {
    std::vector<float> out(m.size());
    const int64_t half = head_dim / 2;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t head = r / head_dim, in_head = r % head_dim;
        const int64_t j = in_head / half, i = in_head % half;  // HF order: (half j, index i)
        const int64_t gguf_row = head * head_dim + 2 * i + j;
        const int64_t src = to_gguf ? r : gguf_row, dst = to_gguf ? gguf_row : r;
        std::memcpy(out.data() + dst * cols, m.data() + src * cols, size_t(cols) * sizeof(float));
    }
    return out;
}

}  // namespace slm::model
