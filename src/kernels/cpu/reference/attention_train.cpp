// Reference causal attention over packed sequences for training, and its backward, one (token,
// head) at a time in double. The backward recomputes each probability from the forward's
// log-sum-exp, as the fast version does: P_tj = exp(scale q_t.k_j - lse_t), D_t = dout_t.out_t,
// dS_tj = P_tj (dout_t.v_j - D_t), dq_t = scale sum_j dS_tj k_j, dk_j = scale sum_t dS_tj q_t,
// dv_j = sum_t P_tj dout_t.
#include <slm/train_ops.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace slm::kernels::ref {
namespace {

// The first key token t sees: its sequence's start, and within the window when there is one.
int64_t first_key(const int32_t* seg_begin, int window, int64_t t) {
    return window > 0 ? std::max<int64_t>(seg_begin[t], t - window + 1) : seg_begin[t];
}

double dot(const float* a, const float* b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += double(a[i]) * double(b[i]);
    return s;
}

}  // namespace

void attention_train(const float* q, const float* k, const float* v, int64_t T, int64_t H, int64_t Hkv, int64_t Dh,
                     const int32_t* seg_begin, int window, float scale, float* out, float* lse) {
    const int64_t group = H / Hkv;
    std::vector<double> scores(static_cast<size_t>(T)), acc(static_cast<size_t>(Dh));
    for (int64_t t = 0; t < T; ++t) {
        const int64_t j0 = first_key(seg_begin, window, t);
        for (int64_t h = 0; h < H; ++h) {
            const float* qt = q + (t * H + h) * Dh;
            const int64_t kvh = h / group;
            double max_s = -INFINITY;
            for (int64_t j = j0; j <= t; ++j) {
                scores[size_t(j)] = double(scale) * dot(qt, k + (j * Hkv + kvh) * Dh, Dh);
                max_s = std::max(max_s, scores[size_t(j)]);
            }
            double sum = 0;
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int64_t j = j0; j <= t; ++j) {
                const double p = std::exp(scores[size_t(j)] - max_s);
                sum += p;
                const float* vj = v + (j * Hkv + kvh) * Dh;
                for (int64_t d = 0; d < Dh; ++d) acc[size_t(d)] += p * double(vj[d]);
            }
            for (int64_t d = 0; d < Dh; ++d) out[(t * H + h) * Dh + d] = float(acc[size_t(d)] / sum);
            lse[t * H + h] = float(max_s + std::log(sum));
        }
    }
}

void attention_train_backward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                              const float* dout, int64_t T, int64_t H, int64_t Hkv, int64_t Dh,
                              const int32_t* seg_begin, int window, float scale, float* dq, float* dk, float* dv) {
    const int64_t group = H / Hkv;
    std::vector<double> gq(size_t(T * H * Dh), 0.0), gk(size_t(T * Hkv * Dh), 0.0), gv(gk.size(), 0.0);
    for (int64_t t = 0; t < T; ++t) {
        const int64_t j0 = first_key(seg_begin, window, t);
        for (int64_t h = 0; h < H; ++h) {
            const int64_t row = t * H + h, kvh = h / group;
            const float* qt = q + row * Dh;
            const float* gt = dout + row * Dh;
            const double D = dot(gt, out + row * Dh, Dh);
            for (int64_t j = j0; j <= t; ++j) {
                const float* kj = k + (j * Hkv + kvh) * Dh;
                const float* vj = v + (j * Hkv + kvh) * Dh;
                const double p = std::exp(double(scale) * dot(qt, kj, Dh) - double(lse[row]));
                const double ds = p * (dot(gt, vj, Dh) - D);
                for (int64_t d = 0; d < Dh; ++d) {
                    gq[size_t(row * Dh + d)] += double(scale) * ds * double(kj[d]);
                    gk[size_t((j * Hkv + kvh) * Dh + d)] += double(scale) * ds * double(qt[d]);
                    gv[size_t((j * Hkv + kvh) * Dh + d)] += p * double(gt[d]);
                }
            }
        }
    }
    for (size_t i = 0; i < gq.size(); ++i) dq[i] = float(gq[i]);
    for (size_t i = 0; i < gk.size(); ++i) dk[i] = float(gk[i]), dv[i] = float(gv[i]);
}

}  // namespace slm::kernels::ref
