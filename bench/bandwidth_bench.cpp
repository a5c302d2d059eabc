// The memory-bandwidth yardstick: kernels::stream_read over 1 GiB (far beyond the caches), on
// one thread and on the whole pool. Decode at N GB/s of weights is compared with this figure.
#include <slm/kernels.h>
#include <slm/tensor.h>

#include <benchmark/benchmark.h>

#include <cstring>

namespace slm::bench {

ThreadPool& bench_pool();

namespace {

void stream_read_bench(benchmark::State& state, bool all_threads) {
    const size_t bytes = size_t(1) << 30;
    static Buffer buffer = [] {
        Buffer b = Buffer::allocate(size_t(1) << 30);
        std::memset(b.data(), 1, b.size());  // touch every page before timing
        return b;
    }();
    ThreadPool* pool = all_threads ? &bench_pool() : nullptr;
    for (auto _ : state) benchmark::DoNotOptimize(kernels::stream_read(buffer.data(), bytes, pool));
    state.counters["bytes_per_second"] = benchmark::Counter(double(state.iterations()) * double(bytes), benchmark::Counter::kIsRate);
}

// The same bytes read as decode reads them: in pieces of one matrix (6.5 MiB, a 1.1B q4_0 model's
// ffn_up), one pool dispatch per piece, so the start and end of each piece's parallel read count.
void stream_read_pieces_bench(benchmark::State& state) {
    const size_t bytes = size_t(1) << 30, piece = size_t(state.range(0)) << 10;
    static Buffer buffer = [] {
        Buffer b = Buffer::allocate(size_t(1) << 30);
        std::memset(b.data(), 1, b.size());
        return b;
    }();
    for (auto _ : state)
        for (size_t at = 0; at + piece <= bytes; at += piece)
            benchmark::DoNotOptimize(kernels::stream_read(static_cast<const uint8_t*>(buffer.data()) + at, piece, &bench_pool()));
    state.counters["bytes_per_second"] = benchmark::Counter(double(state.iterations()) * double(bytes / piece * piece), benchmark::Counter::kIsRate);
}
BENCHMARK(stream_read_pieces_bench)->Name("BM_StreamRead/pool_pieces_KiB")->Arg(6656)->Arg(2048)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_CAPTURE(stream_read_bench, one_thread, false)->Name("BM_StreamRead/1thread")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(stream_read_bench, pool, true)->Name("BM_StreamRead/pool")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace slm::bench
