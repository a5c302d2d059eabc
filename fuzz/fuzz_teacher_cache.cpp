// libFuzzer target: TeacherCache::from_buffer (the checks behind TeacherCache::open) on arbitrary
// bytes. A cache that opens must hold what its checks promise: every example's rows and lse inside
// the bytes, ids in [0, vocab_size), logits finite and sorted, lse finite; anything else is an
// slm::Error.
#include <slm/error.h>

#include "train/teacher_cache.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    slm::Buffer bytes = slm::Buffer::allocate(size);
    if (size > 0) std::memcpy(bytes.data(), data, size);
    const uint8_t* begin = bytes.data();
    const uint8_t* end = begin + size;
    try {
        const slm::train::TeacherCache cache = slm::train::TeacherCache::from_buffer(std::move(bytes), "fuzz.cache");
        const int64_t k = cache.header().k, vocab = cache.header().vocab_size;
        for (int64_t e = 0; e < cache.header().examples; ++e) {
            const auto rows = cache.rows(e);
            if (rows.count == 0) continue;
            const auto* first = reinterpret_cast<const uint8_t*>(rows.ids);
            const auto* last = reinterpret_cast<const uint8_t*>(rows.lse + rows.count);
            if (first < begin || last > end) std::abort();
            for (int64_t i = 0; i < rows.count * k; ++i) {
                if (rows.ids[i] < 0 || rows.ids[i] >= vocab || !std::isfinite(rows.logits[i])) std::abort();
                if (i % k != 0 && rows.logits[i - 1] < rows.logits[i]) std::abort();
            }
            for (int64_t r = 0; r < rows.count; ++r)
                if (!std::isfinite(rows.lse[r])) std::abort();
        }
    } catch (const slm::Error&) {
    }
    return 0;
}
