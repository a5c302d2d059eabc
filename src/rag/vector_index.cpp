// Vector search: the exact scan (a lane-parallel dot product per row) keeps a bounded heap per
// query; HnswIndex wraps hnswlib's HierarchicalNSW over its inner-product space (distance = 1 - dot).
#include "rag/vector_index.h"

#include <fcntl.h>
#include <hnswlib/hnswlib.h>
#include <slm/error.h>
#include <slm/thread_pool.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <queue>

namespace slm::rag {

void normalize(std::span<float> v) {
    double sum = 0;
    for (float x : v) sum += double(x) * x;
    if (sum <= 0) return;
    const float scale = float(1.0 / std::sqrt(sum));
    for (float& x : v) x *= scale;
}

namespace {

// Sixteen independent partial sums: the compiler keeps them in vector registers, where one running
// sum (a dependency chain it may not reorder) runs at one multiply-add per cycle.
float dot(const float* a, const float* b, size_t n) {
    constexpr size_t L = 16;
    float acc[L] = {};
    size_t i = 0;
    for (; i + L <= n; i += L)
        for (size_t j = 0; j < L; ++j) acc[j] += a[i + j] * b[i + j];
    float sum = 0;
    for (size_t j = 0; j < L; ++j) sum += acc[j];
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

}  // namespace

std::vector<Neighbor> exact_search(std::span<const float> vectors, std::span<const int64_t> ids, int dim,
                                   std::span<const float> query, size_t k) {
    const size_t D = size_t(dim);
    if (query.size() != D) fail("query vector has {} dims, the index {}", query.size(), dim);
    auto worse = [](const Neighbor& a, const Neighbor& b) { return a.similarity > b.similarity; };
    std::priority_queue<Neighbor, std::vector<Neighbor>, decltype(worse)> best(worse);  // min-heap
    for (size_t r = 0; r < ids.size(); ++r) {
        const float similarity = dot(vectors.data() + r * D, query.data(), D);
        if (best.size() < k)
            best.push({ids[r], similarity});
        else if (similarity > best.top().similarity) {
            best.pop();
            best.push({ids[r], similarity});
        }
    }
    std::vector<Neighbor> out(best.size());
    for (size_t i = out.size(); i > 0; --i) {
        out[i - 1] = best.top();
        best.pop();
    }
    return out;
}

struct HnswIndex::State {
    explicit State(int dim) : space(size_t(dim)) {}
    hnswlib::InnerProductSpace space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
};

HnswIndex::HnswIndex(int dim, std::unique_ptr<State> state, size_t ef_search)
    : dim_(dim), state_(std::move(state)), ef_search_(ef_search) {
    state_->graph->setEf(ef_search_);
}

HnswIndex::HnswIndex(int dim, size_t capacity, const HnswParams& params)
    : dim_(dim), state_(std::make_unique<State>(dim)), ef_search_(params.ef_search) {
    state_->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&state_->space, std::max<size_t>(capacity, 1),
                                                                      params.M, params.ef_construction);
    state_->graph->setEf(ef_search_);
}

HnswIndex::~HnswIndex() = default;

std::unique_ptr<HnswIndex> HnswIndex::load(const std::string& path, int dim, const HnswParams& params) {
    if (!std::filesystem::exists(path)) fail("{}: vector index missing", path);
    auto state = std::make_unique<State>(dim);
    try {
        state->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&state->space, path);
    } catch (const std::exception& e) {
        fail("{}: cannot read the vector index: {}", path, e.what());
    }
    // hnswlib takes the vector size from the space it is given; the file's own is the gap between
    // an element's links and its label. A mismatch means another model's index.
    const size_t stored_bytes = state->graph->label_offset_ - state->graph->offsetData_;
    if (stored_bytes != size_t(dim) * sizeof(float))
        fail("{}: vector index holds {}-dim vectors, the knowledge base {}", path, stored_bytes / sizeof(float), dim);
    return std::unique_ptr<HnswIndex>(new HnswIndex(dim, std::move(state), params.ef_search));
}

void HnswIndex::add(std::span<const int64_t> ids, std::span<const float> vectors, ThreadPool* pool) {
    auto& graph = *state_->graph;
    const size_t need = graph.cur_element_count + ids.size();
    if (need > graph.max_elements_) graph.resizeIndex(std::max(need, graph.max_elements_ * 2));
    const size_t D = size_t(dim_);
    auto add_range = [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
            graph.addPoint(vectors.data() + size_t(i) * D, hnswlib::labeltype(ids[size_t(i)]));
    };
    // hnswlib's addPoint locks what it touches; the first point must exist before others link to it.
    if (!pool || ids.size() < 2) {
        add_range(0, int64_t(ids.size()));
        return;
    }
    add_range(0, 1);
    pool->parallel_for(
        int64_t(ids.size()) - 1, [&](int64_t b, int64_t e) { add_range(b + 1, e + 1); }, 64);
}

std::vector<Neighbor> HnswIndex::search(std::span<const float> query, size_t k) const {
    if (query.size() != size_t(dim_)) fail("query vector has {} dims, the index {}", query.size(), dim_);
    const size_t n = std::min(k, size());
    if (n == 0) return {};
    auto found = state_->graph->searchKnn(query.data(), n);
    std::vector<Neighbor> out(found.size());
    for (size_t i = out.size(); i > 0; --i) {
        out[i - 1] = {int64_t(found.top().second), 1.0f - found.top().first};
        found.pop();
    }
    return out;
}

size_t HnswIndex::size() const { return state_->graph->cur_element_count; }

void HnswIndex::save(const std::string& path) const {
    const std::string temp = path + ".tmp";
    state_->graph->saveIndex(temp);
    // hnswlib writes through an ofstream; make the bytes durable before they replace the old file.
    const int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        const int err = errno;
        if (fd >= 0) ::close(fd);
        std::remove(temp.c_str());
        fail("{}: cannot write the vector index: {}", temp, std::strerror(err));
    }
    ::close(fd);
    if (std::rename(temp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        std::remove(temp.c_str());
        fail("{}: cannot replace the vector index: {}", path, std::strerror(err));
    }
    const std::string dir = std::filesystem::absolute(path).parent_path().string();
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

}  // namespace slm::rag
