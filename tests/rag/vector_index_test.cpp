// Vector search: exact top-k by hand and against a double-precision scan, hnswlib recall against
// exact search, and a saved index answering the same after a load.
#include "rag/vector_index.h"

#include <gtest/gtest.h>
#include <slm/error.h>
#include <slm/thread_pool.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <random>

#include "testing/testing.h"

namespace slm::rag {
namespace {

std::vector<float> random_unit_rows(size_t n, int dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> v(n * size_t(dim));
    for (float& x : v) x = normal(rng);
    for (size_t r = 0; r < n; ++r) normalize(std::span<float>(v.data() + r * size_t(dim), size_t(dim)));
    return v;
}

TEST(ExactSearch, ReturnsTheBestInnerProductsFirst) {
    const std::vector<float> rows = {1, 0, 0, 1, 0.6f, 0.8f, -1, 0};
    const std::vector<int64_t> ids = {10, 11, 12, 13};
    const std::vector<float> query = {0.8f, 0.6f};
    const auto found = exact_search(rows, ids, 2, query, 3);
    ASSERT_EQ(found.size(), 3u);
    EXPECT_EQ(found[0].id, 12);  // 0.48 + 0.48
    EXPECT_NEAR(found[0].similarity, 0.96f, 1e-6);
    EXPECT_EQ(found[1].id, 10);
    EXPECT_EQ(found[2].id, 11);
}

TEST(ExactSearch, LaneParallelDotMatchesADoublePrecisionScan) {
    // 37 dims: two full 16-lane blocks and a tail of 5, so both paths of the dot product count.
    const int dim = 37;
    const size_t n = 300;
    const auto rows = random_unit_rows(n, dim, 7);
    const auto query = random_unit_rows(1, dim, 8);
    std::vector<int64_t> ids(n);
    for (size_t i = 0; i < n; ++i) ids[i] = int64_t(i);
    std::vector<std::pair<double, int64_t>> reference;
    for (size_t r = 0; r < n; ++r) {
        double dot = 0;
        for (int d = 0; d < dim; ++d) dot += double(rows[r * dim + size_t(d)]) * query[size_t(d)];
        reference.emplace_back(dot, int64_t(r));
    }
    std::sort(reference.begin(), reference.end(), std::greater<>());
    const auto found = exact_search(rows, ids, dim, query, 10);
    ASSERT_EQ(found.size(), 10u);
    for (size_t i = 0; i < found.size(); ++i) {
        EXPECT_EQ(found[i].id, reference[i].second) << i;
        EXPECT_NEAR(found[i].similarity, reference[i].first, 1e-5) << i;
    }
}

TEST(HnswIndex, RecallAgainstExactSearchAndSaveLoadRoundTrip) {
    const int dim = 32;
    const size_t n = 3000, queries = 100, k = 10;
    const auto rows = random_unit_rows(n, dim, 1);
    std::vector<int64_t> ids(n);
    for (size_t i = 0; i < n; ++i) ids[i] = int64_t(i) * 3 + 7;  // labels are not row numbers
    HnswIndex index(dim, 100);                                   // grows while adding
    ThreadPool pool(2);
    index.add(ids, rows, &pool);
    ASSERT_EQ(index.size(), n);
    const std::string path = slm::test::temp_dir() + "/round_trip.hnsw";
    index.save(path);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    const auto loaded = HnswIndex::load(path, dim);
    const auto qs = random_unit_rows(queries, dim, 2);
    size_t hits = 0;
    for (size_t q = 0; q < queries; ++q) {
        const std::span<const float> query(qs.data() + q * dim, dim);
        const auto exact = exact_search(rows, ids, dim, query, k);
        const auto ann = index.search(query, k);
        const auto reloaded = loaded->search(query, k);
        ASSERT_EQ(ann.size(), k);
        for (size_t i = 0; i < k; ++i) {
            EXPECT_EQ(ann[i].id, reloaded[i].id);
            EXPECT_FLOAT_EQ(ann[i].similarity, reloaded[i].similarity);
        }
        for (const auto& e : exact)
            for (const auto& a : ann) hits += e.id == a.id;
    }
    EXPECT_GE(double(hits) / double(queries * k), 0.95);
}

TEST(HnswIndex, LoadRefusesAnotherDimension) {
    HnswIndex index(8, 4);
    const std::vector<float> v(8, 0.5f);
    const std::vector<int64_t> id = {1};
    index.add(id, v);
    const std::string path = slm::test::temp_dir() + "/dim8.hnsw";
    index.save(path);
    try {
        HnswIndex::load(path, 16);
        FAIL() << "a 16-dim load of an 8-dim index must fail";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("8-dim"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace slm::rag
