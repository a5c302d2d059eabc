// Scratch memory for kernels: a per-thread buffer that grows to the largest size asked for and
// is then reused, so the hot path (one matmul per layer op, per token) allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace slm::kernels {

// At least `bytes` of 64-byte aligned memory owned by the calling thread, valid until its next
// call to scratch() with the same slot. Slots let one op hold two buffers at once.
inline void* scratch(size_t bytes, int slot = 0) {
    struct Arena {
        std::unique_ptr<uint8_t[], void (*)(uint8_t*)> data{nullptr, [](uint8_t* p) { ::operator delete[](p, std::align_val_t(64)); }};
        size_t size = 0;
    };
    thread_local Arena arenas[2];
    Arena& arena = arenas[slot];
    if (arena.size < bytes) {
        arena.data.reset(static_cast<uint8_t*>(::operator new[](bytes, std::align_val_t(64))));
        arena.size = bytes;
    }
    return arena.data.get();
}

}  // namespace slm::kernels
