// The streaming-read kernel: every thread XORs its contiguous share of the buffer into four
// independent 256-bit accumulators (aligned loads, two cache lines per step), which keeps enough
// loads in flight to saturate the memory controller. Decode reads weights at no more than this.
#include <slm/kernels.h>

#include "kernels/cpu/isa.h"

#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace slm::kernels {
namespace {

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t bytes) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 128 <= bytes; i += 128) {
        a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
        a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
        a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
        a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
    }
    const __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    uint64_t lanes[4];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), a);
    uint64_t sum = lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
    for (; i < bytes; ++i) sum ^= p[i];
    return sum;
}
#endif

uint64_t read_portable(const uint8_t* p, size_t bytes) {
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
        uint64_t w[4];
        std::memcpy(w, p + i, 32);
        a0 ^= w[0], a1 ^= w[1], a2 ^= w[2], a3 ^= w[3];
    }
    uint64_t sum = a0 ^ a1 ^ a2 ^ a3;
    for (; i < bytes; ++i) sum ^= p[i];
    return sum;
}

}  // namespace

uint64_t stream_read(const void* data, size_t bytes, ThreadPool* pool) {
    const auto* base = static_cast<const uint8_t*>(data);
    // Shares start on 128-byte boundaries relative to the 64-byte-aligned buffer start.
    const size_t units = bytes / 128;
    auto read_share = [&](size_t begin_unit, size_t end_unit, bool last) {
        const size_t begin = begin_unit * 128, end = last ? bytes : end_unit * 128;
#if defined(__x86_64__)
        if (best_isa() >= Isa::avx2 && reinterpret_cast<uintptr_t>(base) % 32 == 0) return read_avx2(base + begin, end - begin);
#endif
        return read_portable(base + begin, end - begin);
    };
    if (pool == nullptr || pool->size() == 1) return read_share(0, units, true);
    std::vector<uint64_t> sums(size_t(pool->size()), 0);
    pool->run_on_all([&](int ith, int nth) {
        sums[size_t(ith)] = read_share(units * size_t(ith) / size_t(nth), units * size_t(ith + 1) / size_t(nth), ith == nth - 1);
    });
    uint64_t sum = 0;
    for (uint64_t s : sums) sum ^= s;
    return sum;
}

}  // namespace slm::kernels
