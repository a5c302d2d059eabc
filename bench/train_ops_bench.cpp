// Microbenchmarks of the training kernels (train_ops.h) on a pool of SLM_BENCH_THREADS threads
// (default: all cores): sgemm at LoRA and attention-tile shapes (FLOPS = 2MNK/s), the matmul
// input gradient through a frozen quantized weight, attention forward + backward, and the loss
// heads (cross-entropy, distillation against a dense or top-k teacher).
#include <slm/kernels.h>
#include <slm/train_ops.h>

#include "kernels/cpu/sgemm.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

namespace slm::bench {
namespace {

ThreadPool& train_pool() {
    static ThreadPool pool([] {
        const char* env = std::getenv("SLM_BENCH_THREADS");
        return env != nullptr ? std::atoi(env) : 0;
    }());
    return pool;
}

std::vector<float> noise(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// Args: M, N, K, transpose A, transpose B, portable (1: the portable pieces, for comparison).
void BM_Sgemm(benchmark::State& state) {
    const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
    const kernels::Trans ta = state.range(3) != 0 ? kernels::Trans::yes : kernels::Trans::no;
    const kernels::Trans tb = state.range(4) != 0 ? kernels::Trans::yes : kernels::Trans::no;
    const kernels::SgemmOps& ops = state.range(5) != 0 ? kernels::sgemm_ops_portable() : kernels::sgemm_ops(kernels::best_isa());
    const std::vector<float> A = noise(size_t(M * K), 1), B = noise(size_t(K * N), 2);
    std::vector<float> C(size_t(M * N));
    const int64_t lda = ta == kernels::Trans::no ? K : M, ldb = tb == kernels::Trans::no ? N : K;
    for (auto _ : state) {
        kernels::sgemm_with(ops, ta, tb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), N, &train_pool());
        benchmark::DoNotOptimize(C.data());
    }
    state.counters["FLOPS"] = benchmark::Counter(double(state.iterations()) * 2.0 * double(M * N * K), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Sgemm)
    ->ArgNames({"M", "N", "K", "ta", "tb", "portable"})
    ->Args({4096, 896, 320, 0, 1, 0})
    ->Args({4096, 896, 320, 0, 0, 0})
    ->Args({4096, 896, 320, 1, 0, 0})
    ->Args({4096, 16, 320, 0, 1, 0})
    ->Args({16, 320, 4096, 1, 0, 0})
    ->Args({512, 512, 512, 0, 0, 0})
    ->Args({512, 512, 512, 1, 1, 0})
    ->Args({512, 512, 512, 0, 0, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// dx = dy W for W: [N, K] of dtype, T tokens. Args: N, K, T, dtype index.
void BM_MatmulBackwardInput(benchmark::State& state) {
    const int64_t N = state.range(0), K = state.range(1), T = state.range(2);
    const DType dtypes[] = {DType::f32, DType::bf16, DType::q8_0, DType::q4_k};
    const DType dtype = dtypes[state.range(3)];
    OwnedTensor W = OwnedTensor::zeros(dtype, {N, K});
    const std::vector<float> values = noise(size_t(N * K), 3);
    for (int64_t r = 0; r < N; ++r) traits(dtype).from_float(values.data() + r * K, W.tensor.row(r), K);
    const std::vector<float> dy = noise(size_t(T * N), 4);
    std::vector<float> dx(size_t(T * K));
    for (auto _ : state) {
        kernels::matmul_backward_input(W.tensor, dy.data(), T, dx.data(), false, &train_pool());
        benchmark::DoNotOptimize(dx.data());
    }
    state.SetLabel(std::string(name(dtype)));
    state.counters["FLOPS"] = benchmark::Counter(double(state.iterations()) * 2.0 * double(N * K * T), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MatmulBackwardInput)
    ->ArgNames({"N", "K", "T", "dtype"})
    ->Args({896, 896, 1024, 0})
    ->Args({4864, 896, 1024, 1})
    ->Args({4864, 896, 1024, 2})
    ->Args({4864, 1024, 1024, 3})  // k-quant rows are whole 256-element blocks
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Forward and backward of attention over sequences of `len` tokens packed to T. Args: T, len, H, Hkv, Dh.
void BM_AttentionTrain(benchmark::State& state) {
    const int64_t T = state.range(0), len = state.range(1), H = state.range(2), Hkv = state.range(3), Dh = state.range(4);
    std::vector<int32_t> seg(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) seg[size_t(t)] = int32_t(t - t % len);
    const std::vector<float> q = noise(size_t(T * H * Dh), 5), k = noise(size_t(T * Hkv * Dh), 6),
                             v = noise(size_t(T * Hkv * Dh), 7), g = noise(size_t(T * H * Dh), 8);
    std::vector<float> out(q.size()), lse(size_t(T * H)), dq(q.size()), dk(k.size()), dv(v.size());
    const float scale = 1.0f / std::sqrt(float(Dh));
    for (auto _ : state) {
        kernels::attention_train(q.data(), k.data(), v.data(), T, H, Hkv, Dh, seg.data(), 0, scale, out.data(), lse.data(),
                                 &train_pool());
        kernels::attention_train_backward(q.data(), k.data(), v.data(), out.data(), lse.data(), g.data(), T, H, Hkv, Dh,
                                          seg.data(), 0, scale, dq.data(), dk.data(), dv.data(), &train_pool());
        benchmark::DoNotOptimize(dq.data());
    }
    // Useful work: QK and PV forward (2 products), and 5 products backward, over the causal half.
    const double pairs = double(T / len) * double(len) * double(len + 1) / 2.0;
    state.counters["FLOPS"] = benchmark::Counter(double(state.iterations()) * 7.0 * 2.0 * pairs * double(H * Dh), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AttentionTrain)
    ->ArgNames({"T", "len", "H", "Hkv", "Dh"})
    ->Args({2048, 512, 14, 2, 64})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The loss over T rows of V logits, which overwrites them with the gradient (so each iteration
// first copies the logits back: the same copy for every mode). Args: T, V, mode (0: cross_entropy,
// 1: distill_loss against a dense teacher of V logits, 2: against a top-64 teacher), tau * 10.
void BM_LossHead(benchmark::State& state) {
    const int64_t T = state.range(0), V = state.range(1), mode = state.range(2), k = mode == 1 ? V : 64;
    const float tau = float(state.range(3)) / 10.0f;
    const std::vector<float> logits = noise(size_t(T * V), 9), teacher = noise(size_t(T * (mode == 1 ? V : k)), 10);
    std::vector<int32_t> targets(static_cast<size_t>(T)), ids(static_cast<size_t>(T * k));
    for (int64_t i = 0; i < T * k; ++i) ids[size_t(i)] = int32_t((i % k) * (V / k));
    for (int64_t t = 0; t < T; ++t) targets[size_t(t)] = int32_t(t * 7919 % V);
    const kernels::TeacherLogits view{teacher.data(), mode == 2 ? ids.data() : nullptr, k, k};
    std::vector<float> work(logits.size());
    for (auto _ : state) {
        std::copy(logits.begin(), logits.end(), work.begin());
        if (mode == 0) kernels::cross_entropy(work.data(), targets.data(), T, V, 1.0f, nullptr, &train_pool());
        else kernels::distill_loss(work.data(), targets.data(), view, T, V, 0.5f, tau, 1.0f, &train_pool());
        benchmark::DoNotOptimize(work.data());
    }
    state.counters["logits/s"] = benchmark::Counter(double(state.iterations()) * double(T * V), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LossHead)
    ->ArgNames({"T", "V", "mode", "tau10"})
    ->Args({512, 151936, 0, 10})
    ->Args({512, 151936, 1, 20})
    ->Args({512, 151936, 2, 10})
    ->Args({512, 151936, 2, 20})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace slm::bench
