// Copies the matrices a model's matmuls read into the CPU kernels' own layout
// (Layout::interleaved8), shared by the decoder's and the encoder's weights.
#pragma once

#include <slm/tensor.h>
#include <slm/tensor_source.h>

#include <vector>

namespace slm {

// Each matrix that has an interleaved layout is replaced by its copy, whose memory is appended to
// `copies`; the file's pages of each slice of rows are released from `source` as soon as they
// are copied, so memory holds little of a matrix twice. One matrix per chunk of a pool made for
// the load: most of the time goes to zeroing the copies' fresh pages, which threads share out
// (1.1B q8_0: 3.3 s of load on one thread). An error (out of memory) is rethrown once every
// matrix has stopped.
void interleave_matrices(const std::vector<Tensor*>& matrices, const TensorSource& source,
                         std::vector<OwnedTensor>& copies);

}  // namespace slm
