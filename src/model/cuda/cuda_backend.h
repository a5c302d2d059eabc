// The GPU's Backend (SLM_CUDA builds only): what backend.cpp reaches through this header, which
// holds nothing of CUDA's own so that the rest of the model module never sees cuda_runtime.h.
#pragma once

#include "model/backend.h"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace slm::model::cuda_backend {

bool available();
// Copies every weight of `model` into one block of GPU memory and returns the backend that runs
// the forward's ops on them, on a stream of its own (one forward at a time).
std::unique_ptr<Backend> make(const Model& model);
std::shared_ptr<uint8_t> allocate_zeroed(size_t bytes);
void copy_bytes(void* dst, const void* src, size_t bytes);

}  // namespace slm::model::cuda_backend
