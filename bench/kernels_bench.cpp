// Microbenchmarks of the CPU kernels at TinyLlama-1.1B's shapes (D 2048, FFN 5632, 32 heads of
// 64, 4 kv heads), on a pool of SLM_BENCH_THREADS threads (default: all cores). Counters:
// bytes_per_second = weight bytes read per second (compare with BM_StreamRead), FLOPS = 2NKT/s.
// Decode matmuls rotate over enough distinct matrices (256 MiB) to stream from memory.
#include <slm/half.h>
#include <slm/kernels.h>

#include "bench_weights.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/row_dot.h"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace slm::bench {

ThreadPool& bench_pool() {
    static ThreadPool pool([] {
        const char* env = std::getenv("SLM_BENCH_THREADS");
        return env != nullptr ? std::atoi(env) : 0;
    }());
    return pool;
}

namespace {

constexpr size_t kStreamBytes = size_t(256) << 20;
constexpr size_t kSmallModelBytes = size_t(24) << 20;  // tinyqwen2-bpe-11m in bf16
const DType kWeightTypes[] = {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_k, DType::q5_k, DType::q6_k};

void set_matmul_counters(benchmark::State& state, DType dtype, int64_t N, int64_t K, int64_t T) {
    const double iters = double(state.iterations());
    state.counters["bytes_per_second"] = benchmark::Counter(iters * double(row_bytes(dtype, K) * size_t(N)), benchmark::Counter::kIsRate);
    state.counters["FLOPS"] = benchmark::Counter(iters * 2.0 * double(N * K * T), benchmark::Counter::kIsRate);
    state.counters["tokens_per_second"] = benchmark::Counter(iters * double(T), benchmark::Counter::kIsRate);
}

// cycle_bytes: weights cycled through (several copies of the matrix) so that they come from
// where a model's weights would; 0: one copy, warm in cache (prompt GEMMs reuse it anyway).
// interleaved: the weights in the layout a model load gives them (kernels::interleave_for_matmul).
void matmul_bench(benchmark::State& state, DType dtype, int64_t N, int64_t K, int64_t T, size_t cycle_bytes,
                  bool interleaved = false) {
    const int copies = cycle_bytes > 0 ? copies_for(dtype, N, K, cycle_bytes) : 1;
    std::vector<OwnedTensor> weights = random_matrices(dtype, N, K, copies);
    if (interleaved)
        for (OwnedTensor& w : weights) {
            std::optional<OwnedTensor> I = kernels::interleave_for_matmul(w.tensor);
            if (!I) {
                state.SkipWithError("no interleaved layout on this CPU");
                return;
            }
            w = std::move(*I);
        }
    const std::vector<float> x = random_floats(size_t(T * K), 2);
    std::vector<float> y(size_t(T * N));
    size_t next = 0;
    for (auto _ : state) {
        kernels::matmul(weights[next].tensor, x.data(), T, y.data(), &bench_pool());
        next = (next + 1) % weights.size();
        benchmark::DoNotOptimize(y.data());
    }
    set_matmul_counters(state, dtype, N, K, T);
}

// The two prompt paths of a quantized matmul at few tokens, for choosing kGemmMinTokens.
void gemm_vs_row_dots_bench(benchmark::State& state, DType dtype, int64_t N, int64_t K, int64_t T, bool gemm) {
    const std::vector<OwnedTensor> weights = random_matrices(dtype, N, K, 1);
    const std::vector<float> x = random_floats(size_t(T * K), 2);
    std::vector<float> y(size_t(T * N));
    const kernels::GemmKernel gemm_kernel = kernels::gemm_kernel(dtype, Layout::rows, kernels::best_isa());
    const kernels::RowDot* row_dot = kernels::row_dot(dtype, kernels::best_isa());
    if (gemm_kernel.fn == nullptr || row_dot == nullptr) {
        state.SkipWithError("needs both kernels at this level");
        return;
    }
    for (auto _ : state) {
        if (gemm) kernels::matmul_by_gemm(gemm_kernel, weights[0].tensor, x.data(), T, y.data(), &bench_pool());
        else kernels::matmul_with(*row_dot, weights[0].tensor, x.data(), T, y.data(), &bench_pool());
        benchmark::DoNotOptimize(y.data());
    }
    set_matmul_counters(state, dtype, N, K, T);
}

struct AttentionShape {
    const char* name;
    int64_t H, Hkv, Dh;
};

void attention_bench(benchmark::State& state, AttentionShape shape, int64_t T, int64_t S) {
    const int64_t H = shape.H, Hkv = shape.Hkv, Dh = shape.Dh;
    const std::vector<float> q = random_floats(size_t(T * H * Dh), 3), kv = random_floats(size_t(S * Hkv * Dh), 4);
    std::vector<uint16_t> cache(kv.size());
    for (size_t i = 0; i < kv.size(); ++i) cache[i] = f32_to_f16(kv[i]);
    std::vector<int32_t> pos(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(S - T + t);
    std::vector<float> out(q.size());
    for (auto _ : state) {
        kernels::attention(q.data(), T, H, Hkv, Dh, cache.data(), cache.data(), DType::f16, S, pos.data(), 0,
                           0.125f, out.data(), &bench_pool());
        benchmark::DoNotOptimize(out.data());
    }
    // Causal: query t sees S - T + t + 1 positions; 4 flops per (position, dim) for QK and PV.
    double visible = 0;
    for (int64_t t = 0; t < T; ++t) visible += double(S - T + t + 1);
    state.counters["FLOPS"] = benchmark::Counter(double(state.iterations()) * 4.0 * visible * double(H * Dh), benchmark::Counter::kIsRate);
}

void elementwise_bench(benchmark::State& state, const std::string& op, int64_t T) {
    const int64_t D = 2048, F = 5632, H = 32, Dh = 64;
    std::vector<float> a = random_floats(size_t(T * F), 5), b = random_floats(size_t(T * F), 6), out(a.size());
    const std::vector<float> w = random_floats(size_t(D), 7);
    std::vector<float> inv_freq(size_t(Dh / 2), 0.01f);
    std::vector<int32_t> pos(static_cast<size_t>(T), 100);
    std::vector<float> cos_sin(size_t(T * Dh));  // once per forward pass, shared by all layers
    kernels::rope_angles(pos.data(), T, Dh, inv_freq.data(), 1.0f, cos_sin.data(), &bench_pool());
    size_t bytes = 0;
    for (auto _ : state) {
        if (op == "rms_norm") kernels::rms_norm(a.data(), w.data(), T, D, 1e-5f, out.data(), &bench_pool()), bytes = size_t(T * D) * 8;
        else if (op == "silu_mul") kernels::silu_mul(a.data(), b.data(), T * F, out.data(), &bench_pool()), bytes = size_t(T * F) * 12;
        else if (op == "rope") kernels::rope(a.data(), T, H, Dh, cos_sin.data(), kernels::RopeMode::neox, &bench_pool()), bytes = size_t(T * H * Dh) * 8;
        else kernels::softmax(a.data(), T, F), bytes = size_t(T * F) * 8;
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["bytes_per_second"] = benchmark::Counter(double(state.iterations()) * double(bytes), benchmark::Counter::kIsRate);
}

int register_all() {
    struct Shape { const char* name; int64_t N, K; };
    const Shape shapes[] = {{"attn_qo_2048x2048", 2048, 2048}, {"ffn_up_5632x2048", 5632, 2048}, {"ffn_down_2048x5632", 2048, 5632}};
    for (DType dtype : kWeightTypes) {
        for (const Shape& s : shapes) {
            for (int64_t T : {1, 512}) {
                const std::string name = std::string("BM_Matmul/") + std::string(slm::name(dtype)) + "/" + s.name + "/T" + std::to_string(T);
                benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { matmul_bench(st, dtype, s.N, s.K, T, T == 1 ? kStreamBytes : 0); })
                    ->Unit(benchmark::kMillisecond)->UseRealTime();
            }
        }
    }
    // The types with an interleaved layout, as a model load gives them (kernels::interleave_for_matmul),
    // and the decode kernels' compute ceiling: one token over a matrix that stays in L2 (one
    // 256 KiB-ish copy), against the figures that stream from memory.
    for (DType dtype : {DType::q8_0, DType::q4_0, DType::q5_0, DType::q4_k, DType::q6_k}) {
        const std::string prefix = std::string("BM_Matmul/") + std::string(slm::name(dtype)) + ".interleaved8/";
        for (const Shape& s : shapes) {
            for (int64_t T : {1, 512}) {
                const std::string name = prefix + s.name + "/T" + std::to_string(T);
                benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { matmul_bench(st, dtype, s.N, s.K, T, T == 1 ? kStreamBytes : 0, true); })
                    ->Unit(benchmark::kMillisecond)->UseRealTime();
            }
        }
        benchmark::RegisterBenchmark((prefix + "in_l2_256x2048/T1").c_str(), [=](benchmark::State& st) { matmul_bench(st, dtype, 256, 2048, 1, 0, true); })
            ->Unit(benchmark::kMicrosecond)->UseRealTime();
    }
    // A batched server step on a small float model (tinyqwen2-bpe-11m's MLP, bf16 as shipped):
    // one decode token per sequence, so T is the number of clients.
    for (DType dtype : {DType::f32, DType::bf16}) {
        for (int64_t T : {1, 4, 8, 16}) {
            const std::string name = std::string("BM_Matmul/") + std::string(slm::name(dtype)) + "/small_ffn_up_896x320/T" + std::to_string(T);
            benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { matmul_bench(st, dtype, 896, 320, T, kSmallModelBytes); })
                ->Unit(benchmark::kMicrosecond)->UseRealTime();
        }
    }
    for (DType dtype : {DType::q8_0, DType::q4_0, DType::q4_k}) {
        for (int64_t T : {4, 8, 16, 32}) {
            for (bool gemm : {false, true}) {
                const std::string name = std::string("BM_GemmVsRowDots/") + std::string(slm::name(dtype)) + "/T" + std::to_string(T) +
                                         (gemm ? "/gemm" : "/row_dots");
                benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { gemm_vs_row_dots_bench(st, dtype, 2048, 2048, T, gemm); })
                    ->Unit(benchmark::kMicrosecond)->UseRealTime();
            }
        }
    }
    // TinyLlama-1.1B's heads, then the 13M test model's (32-wide heads, two per kv head).
    for (AttentionShape shape : {AttentionShape{"h32x64", 32, 4, 64}, AttentionShape{"h8x32", 8, 4, 32}}) {
        for (auto [T, S] : {std::pair<int64_t, int64_t>{1, 512}, {1, 4096}, {512, 512}}) {
            const std::string name = "BM_Attention/f16/" + std::string(shape.name) + "/T" + std::to_string(T) + "/S" + std::to_string(S);
            benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { attention_bench(st, shape, T, S); })
                ->Unit(benchmark::kMicrosecond)->UseRealTime();
        }
    }
    for (const char* op : {"rms_norm", "silu_mul", "rope", "softmax"}) {
        for (int64_t T : {1, 512}) {
            const std::string name = std::string("BM_") + op + "/T" + std::to_string(T);
            benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { elementwise_bench(st, op, T); })
                ->Unit(benchmark::kMicrosecond)->UseRealTime();
        }
    }
    return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace slm::bench
