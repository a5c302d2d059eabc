// The arguments of distill_loss checked once, before any row is touched (a bad teacher id would
// otherwise write outside the row), and the teacher's entries of a row, shared by the fast
// kernel and its reference so that both read the teacher the same way.
#pragma once

#include <slm/error.h>
#include <slm/train_ops.h>

#include <cmath>
#include <cstdint>

namespace slm::kernels::distill {

inline void check_arguments(const int32_t* targets, const TeacherLogits& teacher, int64_t T, int64_t V, float alpha,
                            float temperature) {
    if (T < 0 || V < 1) fail("distill_loss: {} rows of {} logits", T, V);
    if (teacher.logits == nullptr) fail("distill_loss: no teacher logits");
    if (teacher.k < 1 || teacher.k > V)
        fail("distill_loss: the teacher gives {} logits per row, expected 1 to {}", teacher.k, V);
    if (teacher.ids == nullptr && teacher.ld < teacher.k)
        fail("distill_loss: dense teacher rows of stride {} hold fewer than its {} logits", teacher.ld, teacher.k);
    if (!(alpha >= 0.0f && alpha <= 1.0f)) fail("distill_loss: alpha is {}, expected a weight in [0, 1]", alpha);
    if (!(temperature > 0.0f && std::isfinite(temperature)))
        fail("distill_loss: temperature is {}, expected a positive number", temperature);
    if (targets != nullptr)
        for (int64_t t = 0; t < T; ++t)
            if (targets[t] >= V)
                fail("distill_loss: target {} of row {} is outside the vocabulary of {}", targets[t], t, V);
    if (teacher.lse != nullptr && teacher.ids == nullptr)
        fail("distill_loss: a log-sum-exp (lse) was given for a dense teacher; it only completes a top-k teacher "
             "(ids set)");
    if (teacher.lse != nullptr)
        for (int64_t t = 0; t < T; ++t)
            if (!std::isfinite(teacher.lse[t]))
                fail("distill_loss: the teacher's log-sum-exp (lse) of row {} is {}, expected a finite number", t,
                     teacher.lse[t]);
    if (teacher.ids != nullptr)
        for (int64_t i = 0; i < T * teacher.k; ++i)
            if (teacher.ids[i] < 0 || teacher.ids[i] >= V)
                fail("distill_loss: teacher id {} (row {}, entry {}) is outside the vocabulary of {}", teacher.ids[i],
                     i / teacher.k, i % teacher.k, V);
}

// Row t's teacher logits (k of them) and the token id of its entry j.
inline const float* row_logits(const TeacherLogits& teacher, int64_t t) {
    return teacher.logits + t * (teacher.ids != nullptr ? teacher.k : teacher.ld);
}
inline int32_t entry_id(const TeacherLogits& teacher, int64_t t, int64_t j) {
    return teacher.ids != nullptr ? teacher.ids[t * teacher.k + j] : int32_t(j);
}

}  // namespace slm::kernels::distill
