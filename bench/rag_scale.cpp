// rag_scale: the knowledge base's vector index at scale on random unit vectors (by default 1M x
// 384 dims, bge-small's width; --intrinsic K for low-dimensional data): hnswlib build time and file size, then
// recall@10 against exact search and query latency (p50/p99, one query at a time on each of --threads threads) per
// ef_search. The build (and the data and the exact ground truth) run on --build-threads threads.
#include <fmt/format.h>
#include <slm/thread_pool.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "rag/vector_index.h"

using namespace slm;
using namespace slm::rag;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Unit rows: i.i.d. Gaussian (intrinsic 0), or a fixed random map of `intrinsic`-dim Gaussian
// points into `dim` dims, which is closer to real sentence embeddings (they fill a low-dimensional
// part of their space; i.i.d. 384-dim noise is the worst case for any graph index).
std::vector<float> random_unit_rows(size_t n, int dim, int intrinsic, uint64_t seed, ThreadPool& pool) {
    std::vector<float> map(size_t(std::max(intrinsic, 0)) * size_t(dim));
    {
        std::mt19937_64 rng(12345);  // the same map for the data and the queries
        std::normal_distribution<float> normal;
        for (float& x : map) x = normal(rng);
    }
    std::vector<float> v(n * size_t(dim));
    pool.parallel_for(
        int64_t(n),
        [&](int64_t begin, int64_t end) {
            std::mt19937_64 rng(seed * 1000003 + uint64_t(begin));
            std::normal_distribution<float> normal;
            std::vector<float> z(size_t(std::max(intrinsic, 0)));
            for (int64_t r = begin; r < end; ++r) {
                std::span<float> row(v.data() + size_t(r) * size_t(dim), size_t(dim));
                if (intrinsic <= 0) {
                    for (float& x : row) x = normal(rng);
                } else {
                    for (float& x : z) x = normal(rng);
                    std::fill(row.begin(), row.end(), 0.0f);
                    for (size_t i = 0; i < z.size(); ++i)
                        for (size_t d = 0; d < size_t(dim); ++d) row[d] += z[i] * map[i * size_t(dim) + d];
                }
                normalize(row);
            }
        },
        1024);
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    size_t n = 1000000, queries = 1000, recall_queries = 200;
    int dim = 384, threads = 2, build_threads = 0, intrinsic = 0;
    HnswParams params;
    std::string out = "/tmp/rag_scale.hnsw";
    std::vector<size_t> efs = {32, 64, 128, 256};
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--n")
            n = std::stoull(v);
        else if (a == "--dim")
            dim = std::stoi(v);
        else if (a == "--threads")
            threads = std::stoi(v);
        else if (a == "--build-threads")
            build_threads = std::stoi(v);
        else if (a == "--queries")
            queries = std::stoull(v);
        else if (a == "--M")
            params.M = std::stoull(v);
        else if (a == "--efc")
            params.ef_construction = std::stoull(v);
        else if (a == "--out")
            out = v;
        else if (a == "--intrinsic")
            intrinsic = std::stoi(v);
        else if (a == "--ef") {
            efs.clear();
            for (size_t p = 0; p < v.size();) {
                const size_t c = v.find(',', p);
                efs.push_back(std::stoull(v.substr(p, c - p)));
                p = c == std::string::npos ? v.size() : c + 1;
            }
        } else {
            fmt::print(stderr,
                       "usage: rag_scale [--n N] [--dim D] [--threads T] [--build-threads B] [--queries Q] [--M M] "
                       "[--efc EF] [--ef A,B,..] [--intrinsic K] [--out FILE]\n");
            return 2;
        }
    }
    if (build_threads <= 0) build_threads = threads;
    ThreadPool pool(build_threads);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each result line as soon as it is measured, also into a log file
    fmt::print("vectors {} x {} dims ({}), build on {} threads, queries on {} threads, M {}, ef_construction {}\n", n,
               dim, intrinsic > 0 ? fmt::format("intrinsic dimension {}", intrinsic) : std::string("i.i.d. Gaussian"),
               build_threads, threads, params.M, params.ef_construction);
    const auto data = random_unit_rows(n, dim, intrinsic, 1, pool);
    std::vector<int64_t> ids(n);
    for (size_t i = 0; i < n; ++i) ids[i] = int64_t(i) + 1;

    auto t = std::chrono::steady_clock::now();
    HnswIndex index(dim, n, params);
    index.add(ids, data, &pool);
    const double build_s = seconds_since(t);
    t = std::chrono::steady_clock::now();
    index.save(out);
    const double save_s = seconds_since(t);
    const double mib = double(std::filesystem::file_size(out)) / (1024.0 * 1024.0);
    t = std::chrono::steady_clock::now();
    const auto loaded = HnswIndex::load(out, dim, params);
    const double load_s = seconds_since(t);
    fmt::print(
        "build {:.1f} s ({:.0f} vectors/s), save {:.1f} s, load {:.1f} s, file {:.1f} MiB ({:.0f} bytes/vector)\n",
        build_s, double(n) / build_s, save_s, load_s, mib, mib * 1024 * 1024 / double(n));

    const auto qs = random_unit_rows(queries, dim, intrinsic, 2, pool);
    // Exact top-10 of the first recall_queries queries: the ground truth.
    recall_queries = std::min(recall_queries, queries);
    std::vector<std::vector<Neighbor>> truth(recall_queries);
    t = std::chrono::steady_clock::now();
    pool.parallel_for(int64_t(recall_queries), [&](int64_t b, int64_t e) {
        for (int64_t q = b; q < e; ++q)
            truth[size_t(q)] = exact_search(
                data, ids, dim, std::span<const float>(qs.data() + size_t(q) * size_t(dim), size_t(dim)), 10);
    });
    fmt::print("exact search: {:.1f} ms per query (one thread each, {} at once)\n",
               seconds_since(t) * 1000 * build_threads / double(recall_queries), build_threads);

    for (size_t ef : efs) {
        HnswParams p = params;
        p.ef_search = ef;
        const auto probe = HnswIndex::load(out, dim, p);
        std::vector<double> latency(queries);
        std::vector<std::vector<Neighbor>> found(queries);
        std::atomic<size_t> next{0};
        auto worker = [&] {
            for (size_t q; (q = next++) < queries;) {
                const auto s = std::chrono::steady_clock::now();
                found[q] = probe->search(std::span<const float>(qs.data() + q * size_t(dim), size_t(dim)), 10);
                latency[q] = seconds_since(s) * 1000;
            }
        };
        std::vector<std::thread> workers;
        const auto wall = std::chrono::steady_clock::now();
        for (int i = 0; i < threads; ++i) workers.emplace_back(worker);
        for (auto& w : workers) w.join();
        const double wall_s = seconds_since(wall);
        size_t hits = 0;
        for (size_t q = 0; q < recall_queries; ++q)
            for (const auto& a : found[q])
                for (const auto& b : truth[q]) hits += a.id == b.id;
        std::sort(latency.begin(), latency.end());
        fmt::print("ef_search {:4}: recall@10 {:.4f}  p50 {:.2f} ms  p99 {:.2f} ms  {:.0f} queries/s on {} threads\n",
                   ef, double(hits) / double(recall_queries * 10), latency[queries / 2], latency[queries * 99 / 100],
                   double(queries) / wall_s, threads);
    }
    std::filesystem::remove(out);
    return 0;
}
