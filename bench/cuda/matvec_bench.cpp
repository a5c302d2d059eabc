// GB/s of the CUDA matrix x vector kernels (src/kernels/cuda/matvec.cu) on Llama-2-7B-shaped
// matrices, for each choice of rows per warp (1, 2, 4; the default marked *), against the card's
// own ceilings measured in the same run: a device-to-device copy and a read-only stream
// (cuda::stream_read). Prints a Markdown table; docs/cuda.md quotes it.
// Weight bytes are random with finite scales (timing does not depend on the values); each matrix
// has enough copies that one pass over them is several times the L2 cache, so every launch reads
// from memory, as a decode step does.
#include "kernels/cuda/device.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/ops.h"

#include <slm/dtype.h>
#include <slm/tensor.h>

#include <fmt/format.h>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using slm::DType;
using slm::Tensor;
using namespace slm::cuda;

constexpr size_t kRotationBytes = size_t(512) << 20;  // > 8x the H200's 60 MB of L2
constexpr int kWarmup = 3, kRuns = 40;

uint64_t next_random(uint64_t& state) {  // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Random bytes for a [N, K] matrix of `dtype`, with every f16 scale (and f16/bf16 element) finite.
std::vector<uint8_t> random_matrix(DType dtype, int64_t N, int64_t K) {
    const size_t bytes = slm::row_bytes(dtype, K) * size_t(N);
    std::vector<uint8_t> m(bytes);
    uint64_t state = 42;
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        const uint64_t r = next_random(state);
        std::memcpy(&m[i], &r, 8);
    }
    auto set_u16 = [&](size_t at, uint16_t v) { std::memcpy(&m[at], &v, 2); };
    const size_t block = size_t(slm::traits(dtype).block_bytes);
    switch (dtype) {
        case DType::f16:
            for (size_t i = 0; i < bytes; i += 2) set_u16(i, uint16_t((m[i] | (m[i + 1] << 8)) & 0x83ff) | 0x3000);
            break;
        case DType::bf16:
            for (size_t i = 0; i < bytes; i += 2) set_u16(i, uint16_t((m[i] | (m[i + 1] << 8)) & 0x807f) | 0x3e00);
            break;
        case DType::q4_0:
        case DType::q8_0:
            for (size_t b = 0; b < bytes; b += block) set_u16(b, 0x2c00);  // d = 1/16
            break;
        case DType::q4_k:
        case DType::q5_k:
            for (size_t b = 0; b < bytes; b += block) set_u16(b, 0x2c00), set_u16(b + 2, 0x2c00);
            break;
        case DType::q6_k:
            for (size_t b = 0; b < bytes; b += block) set_u16(b + 208, 0x2c00);
            break;
        default: break;
    }
    return m;
}

// Milliseconds per call of f, over kRuns calls after kWarmup, on the default stream.
template <typename F>
double time_ms(F&& f) {
    cudaEvent_t start, stop;
    check(cudaEventCreate(&start), "event");
    check(cudaEventCreate(&stop), "event");
    for (int i = 0; i < kWarmup; ++i) f(i);
    check(cudaEventRecord(start), "event record");
    for (int i = 0; i < kRuns; ++i) f(kWarmup + i);
    check(cudaEventRecord(stop), "event record");
    check(cudaEventSynchronize(stop), "event sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed time");
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return double(ms) / kRuns;
}

}  // namespace

int main(int argc, char** argv) {
    // --ceilings: only the copy and read bandwidths (bench/compare_llamacpp_cuda.sh's yardstick).
    const bool ceilings_only = argc > 1 && std::string_view(argv[1]) == "--ceilings";
    if (!device_available()) {
        fmt::print(stderr, "bench_cuda_matvec: no CUDA device\n");
        return 1;
    }
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, 0), "device properties");
    fmt::print("device: {} ({} SMs, {:.0f} MB L2, {:.1f} GiB)\n", prop.name, prop.multiProcessorCount,
               prop.l2CacheSize / 1e6, prop.totalGlobalMem / double(1ull << 30));

    // Ceilings: a copy (bytes read + written) and a read-only stream, over 2 GiB.
    const size_t big = size_t(2) << 30;
    const DeviceBuffer a = DeviceBuffer::allocate(big), b = DeviceBuffer::allocate(big);
    check(cudaMemset(a.data(), 1, big), "memset");
    const double copy_ms = time_ms([&](int) { check(cudaMemcpyAsync(b.data(), a.data(), big, cudaMemcpyDeviceToDevice), "copy"); });
    const DeviceBuffer result = DeviceBuffer::allocate(sizeof(unsigned long long));
    const double read_ms = time_ms([&](int) { stream_read(a.data(), big, result.as<unsigned long long>(), nullptr); });
    const double copy_gbs = 2.0 * double(big) / (copy_ms * 1e6), read_gbs = double(big) / (read_ms * 1e6);
    fmt::print("device-to-device copy: {:.0f} GB/s (read + written)\nstream_read: {:.0f} GB/s\n\n", copy_gbs, read_gbs);
    if (ceilings_only) return 0;

    fmt::print("| weights | N x K | MiB | tokens | GB/s, 1 row a warp | 2 rows | 4 rows | default, of stream_read |\n");
    fmt::print("|---|---|---:|---:|---:|---:|---:|---:|\n");
    const DType types[] = {DType::q4_0, DType::q8_0, DType::q4_k, DType::q5_k, DType::q6_k, DType::f16, DType::bf16};
    const int64_t shapes[][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {32000, 4096}};
    for (const DType dtype : types) {
        for (const auto& shape : shapes) {
            const int64_t N = shape[0], K = shape[1];
            const std::vector<uint8_t> host = random_matrix(dtype, N, K);
            const size_t bytes = host.size();
            const int copies = int(std::max<size_t>(1, (kRotationBytes + bytes - 1) / bytes));
            const DeviceBuffer weights = DeviceBuffer::allocate(bytes * size_t(copies));
            const Tensor host_w{dtype, {N, K}, const_cast<uint8_t*>(host.data())};
            for (int c = 0; c < copies; ++c)
                copy_weight_to_device(host_w, weights.as<uint8_t>() + size_t(c) * bytes);
            for (const int T : {1, 2, 4, 8}) {
                std::vector<float> x(size_t(T * K));
                uint64_t state = 7;
                for (float& v : x) v = float(int64_t(next_random(state) % 2001) - 1000) / 1000.0f;
                const DeviceBuffer dx = DeviceBuffer::allocate(x.size() * sizeof(float));
                copy_to_device(dx.data(), x.data(), x.size() * sizeof(float));
                const DeviceBuffer dq = DeviceBuffer::allocate(q8_activations_bytes(T, K));
                const DeviceBuffer dy = DeviceBuffer::allocate(size_t(T * N) * sizeof(float));
                if (matvec_takes_q8(dtype)) quantize_activations(dx.as<float>(), T, K, dq.data(), nullptr);
                const int default_rows = launch::matvec_rows_per_warp(N, T);
                std::string cells;
                double default_gbs = 0;
                for (const int rows : {1, 2, 4}) {
                    const double ms = time_ms([&](int i) {
                        launch::matvec(dtype, weights.as<uint8_t>() + size_t(i % copies) * bytes, N, K, dx.as<float>(),
                                       dq.data(), T, dy.as<float>(), nullptr, rows);
                    });
                    check(cudaGetLastError(), "matvec");
                    const double gbs = double(bytes) / (ms * 1e6);
                    if (rows == default_rows) default_gbs = gbs;
                    cells += fmt::format(" {:.0f}{} |", gbs, rows == default_rows ? "*" : "");
                }
                fmt::print("| {} | {} x {} | {:.1f} | {} |{} {:.0f}% |\n", slm::name(dtype), N, K, bytes / double(1 << 20),
                           T, cells, 100.0 * default_gbs / read_gbs);
            }
        }
    }
    // What one decode step adds per input: the 8-bit activations of a 4096-wide row.
    {
        const DeviceBuffer dx = DeviceBuffer::allocate(8 * 4096 * sizeof(float));
        check(cudaMemset(dx.data(), 0, 8 * 4096 * sizeof(float)), "memset");
        const DeviceBuffer dq = DeviceBuffer::allocate(q8_activations_bytes(8, 4096));
        for (const int T : {1, 8}) {
            const double ms = time_ms([&](int) { quantize_activations(dx.as<float>(), T, 4096, dq.data(), nullptr); });
            fmt::print("\nquantize_activations, {} x 4096: {:.1f} us", T, ms * 1e3);
        }
        fmt::print("\n");
    }
    check(cudaDeviceSynchronize(), "synchronize");
    return 0;
}
