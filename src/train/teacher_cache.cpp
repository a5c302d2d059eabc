// The teacher top-k logit cache (format in teacher_cache.h): its streaming writer, its reader,
// which trusts nothing in the file before checking it, and the fingerprints that match a cache to
// the teacher and data of a run.
#include "train/teacher_cache.h"

#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/model_config.h>

#include "train/dataset.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace slm::train {
namespace {

constexpr char kMagic[8] = {'S', 'L', 'M', 'T', 'O', 'P', 'K', '\0'};
constexpr uint32_t kVersion = 2;
constexpr size_t kPreludeBytes = 16;             // magic, version, json_bytes
constexpr int64_t kMaxVocab = int64_t(1) << 31;  // ids are int32

uint32_t read_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
uint64_t read_u64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

// Bytes of an example block of `rows` rows: ids and logits, lse, and 4 bytes of padding when
// rows is odd (the next block starts 8-aligned). The caller keeps rows * (8k + 4) in range.
uint64_t block_bytes(uint64_t rows, uint64_t k) { return rows * k * 8 + (rows + 1) / 2 * 8; }

// FNV-1a 64: small, dependency-free, and stable across platforms and versions, which is all a
// fingerprint needs (it guards against mistakes, not adversaries).
class Fnv1a {
public:
    void bytes(const void* data, size_t n) {
        const auto* p = static_cast<const uint8_t*>(data);
        for (size_t i = 0; i < n; ++i) hash_ = (hash_ ^ p[i]) * 1099511628211ull;
    }
    void i64(int64_t v) { bytes(&v, sizeof v); }
    void f64(double v) { bytes(&v, sizeof v); }
    // Length first, so that ("ab", "c") and ("a", "bc") differ.
    void str(const std::string& s) {
        i64(int64_t(s.size()));
        bytes(s.data(), s.size());
    }
    uint64_t value() const { return hash_; }

private:
    uint64_t hash_ = 14695981039346656037ull;
};

void check_header(const TeacherCacheHeader& h, const std::string& source) {
    if (h.vocab_size < 1 || h.vocab_size > kMaxVocab)
        fail("{}: vocab_size is {}, expected 1 to {}", source, h.vocab_size, kMaxVocab);
    if (h.k < 1 || h.k > h.vocab_size) fail("{}: k is {}, expected 1 to vocab_size {}", source, h.k, h.vocab_size);
    if (h.examples < 0) fail("{}: examples is {}, expected 0 or more", source, h.examples);
    if (h.max_seq_len < 1) fail("{}: max_seq_len is {}, expected 1 or more", source, h.max_seq_len);
    if (!(h.temperature > 0 && std::isfinite(h.temperature)))
        fail("{}: temperature is {}, expected a positive number (the temperature of the lse values)", source,
             h.temperature);
}

// What is wrong with one row of k entries and its lse, or "" when it is as the format says.
// `seen` is scratch for the duplicate check.
std::string row_problem(const int32_t* ids, const float* logits, float lse, int64_t k, int64_t vocab,
                        std::vector<int32_t>& seen) {
    if (!std::isfinite(lse)) return fmt::format("lse {} is not finite", lse);
    for (int64_t j = 0; j < k; ++j) {
        if (ids[j] < 0 || ids[j] >= vocab) return fmt::format("id {} at entry {} is outside [0, {})", ids[j], j, vocab);
        if (!std::isfinite(logits[j])) return fmt::format("logit {} at entry {} is not finite", logits[j], j);
        if (j > 0 && !(logits[j - 1] > logits[j] || (logits[j - 1] == logits[j] && ids[j - 1] < ids[j])))
            return fmt::format("entries {} and {} are not sorted by logit descending, then by id", j - 1, j);
    }
    seen.assign(ids, ids + k);
    std::sort(seen.begin(), seen.end());
    const auto twice = std::adjacent_find(seen.begin(), seen.end());
    if (twice != seen.end()) return fmt::format("id {} appears twice", *twice);
    return {};
}

const nlohmann::json& field(const nlohmann::json& header, const char* key, const std::string& source) {
    const auto it = header.find(key);
    if (it == header.end()) fail("{}: header has no \"{}\"", source, key);
    return *it;
}

int64_t int_field(const nlohmann::json& header, const char* key, const std::string& source) {
    const nlohmann::json& v = field(header, key, source);
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
        fail("{}: header field \"{}\" is {}, too large", source, key, v.dump());
    if (!v.is_number_integer()) fail("{}: header field \"{}\" is {}, expected an integer", source, key, v.dump());
    return v.get<int64_t>();
}

double number_field(const nlohmann::json& header, const char* key, const std::string& source) {
    const nlohmann::json& v = field(header, key, source);
    if (!v.is_number()) fail("{}: header field \"{}\" is {}, expected a number", source, key, v.dump());
    return v.get<double>();
}

std::string string_field(const nlohmann::json& header, const char* key, const std::string& source) {
    const nlohmann::json& v = field(header, key, source);
    if (!v.is_string()) fail("{}: header field \"{}\" is {}, expected a string", source, key, v.dump());
    return v.get<std::string>();
}

TeacherCacheHeader parse_header(std::string_view text, const std::string& source) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) fail("{}: the header is not valid JSON", source);
    if (!j.is_object()) fail("{}: the header is JSON {}, expected an object", source, j.type_name());
    TeacherCacheHeader h;
    h.teacher_fingerprint = string_field(j, "teacher_fingerprint", source);
    h.teacher_path = string_field(j, "teacher", source);
    h.vocab_size = int_field(j, "vocab_size", source);
    h.k = int_field(j, "k", source);
    h.examples = int_field(j, "examples", source);
    h.max_seq_len = int_field(j, "max_seq_len", source);
    const std::string data = string_field(j, "data_fingerprint", source);
    const auto [end, ec] = std::from_chars(data.data(), data.data() + data.size(), h.data_fingerprint, 16);
    if (data.size() != 16 || ec != std::errc() || end != data.data() + data.size())
        fail("{}: header field \"data_fingerprint\" is \"{}\", expected 16 hex digits", source, data);
    h.temperature = number_field(j, "temperature", source);
    check_header(h, source);
    return h;
}

std::string header_json(const TeacherCacheHeader& h) {
    nlohmann::ordered_json j;
    j["teacher_fingerprint"] = h.teacher_fingerprint;
    j["teacher"] = h.teacher_path;
    j["vocab_size"] = h.vocab_size;
    j["k"] = h.k;
    j["examples"] = h.examples;
    j["max_seq_len"] = h.max_seq_len;
    j["data_fingerprint"] = hex64(h.data_fingerprint);
    j["temperature"] = h.temperature;
    std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text.resize((text.size() + 7) / 8 * 8, ' ');  // the payload starts 8-aligned
    return text;
}

}  // namespace

TeacherCacheWriter::TeacherCacheWriter(std::string path, TeacherCacheHeader header)
    : path_(std::move(path)), header_(std::move(header)) {
    check_header(header_, path_);
    const std::string json = header_json(header_);
    if (json.size() > std::numeric_limits<uint32_t>::max()) fail("{}: the header is too long", path_);
    file_ = std::make_unique<AtomicFileWriter>(path_);
    const uint32_t version = kVersion, json_bytes = uint32_t(json.size());
    file_->write(kMagic, sizeof kMagic);
    file_->write(&version, sizeof version);
    file_->write(&json_bytes, sizeof json_bytes);
    file_->write(json);
    rows_.reserve(size_t(header_.examples));
}

TeacherCacheWriter::~TeacherCacheWriter() = default;

void TeacherCacheWriter::add(int64_t example, int64_t rows, const int32_t* ids, const float* logits,
                             const float* lse) {
    if (file_ == nullptr) fail("{}: example {} added after finish()", path_, example);
    if (example != int64_t(rows_.size()))
        fail("{}: example {} added where example {} was expected (they come in order)", path_, example, rows_.size());
    if (example >= header_.examples)
        fail("{}: example {} is past the {} examples of the header", path_, example, header_.examples);
    if (rows < 0 || rows > header_.max_seq_len)
        fail("{}: example {} has {} rows, expected 0 to max_seq_len {}", path_, example, rows, header_.max_seq_len);
    std::vector<int32_t> seen;
    for (int64_t r = 0; r < rows; ++r) {
        const std::string problem =
            row_problem(ids + r * header_.k, logits + r * header_.k, lse[r], header_.k, header_.vocab_size, seen);
        if (!problem.empty()) fail("{}: example {}, row {}: {}", path_, example, r, problem);
    }
    const size_t n = size_t(rows * header_.k);
    if (n > 0) {
        file_->write(ids, n * sizeof(int32_t));
        file_->write(logits, n * sizeof(float));
        file_->write(lse, size_t(rows) * sizeof(float));
        const uint32_t padding = 0;
        if (rows % 2 != 0) file_->write(&padding, sizeof padding);
    }
    rows_.push_back(uint64_t(rows));
}

void TeacherCacheWriter::finish() {
    if (file_ == nullptr) fail("{}: finish() called twice", path_);
    if (int64_t(rows_.size()) != header_.examples)
        fail("{}: {} of the header's {} examples were added", path_, rows_.size(), header_.examples);
    uint64_t first = 0;
    for (uint64_t rows : rows_) {
        const uint64_t entry[2] = {first, rows};
        file_->write(entry, sizeof entry);
        first += rows;
    }
    file_->commit();
    file_.reset();
}

TeacherCache TeacherCache::open(const std::string& path) { return from_buffer(Buffer::map_file(path), path); }

TeacherCache TeacherCache::from_buffer(Buffer bytes, const std::string& source) {
    const uint8_t* data = bytes.data();
    const size_t size = bytes.size();
    if (size < kPreludeBytes)
        fail("{}: {} bytes, too short for a teacher cache (its first {} bytes alone)", source, size, kPreludeBytes);
    if (std::memcmp(data, kMagic, sizeof kMagic) != 0) fail("{}: not a teacher logit cache (no SLMTOPK magic)", source);
    const uint32_t version = read_u32(data + 8);
    if (version == 1)
        fail("{}: teacher cache format version 1, which holds no log-sum-exp of the teacher's logits and so gives "
             "only its distribution renormalized over the top k; re-create it with slm distill --cache-teacher",
             source);
    if (version != kVersion)
        fail("{}: teacher cache format version {}, this build reads version {}", source, version, kVersion);
    const uint64_t json_bytes = read_u32(data + 12);
    if (json_bytes % 8 != 0) fail("{}: header length {} is not a multiple of 8", source, json_bytes);
    if (json_bytes > size - kPreludeBytes)
        fail("{}: header of {} bytes runs past the end of the file ({} bytes)", source, json_bytes, size);

    TeacherCache cache;
    cache.path_ = source;
    cache.header_ =
        parse_header(std::string_view(reinterpret_cast<const char*>(data) + kPreludeBytes, json_bytes), source);
    const TeacherCacheHeader& h = cache.header_;
    const uint64_t payload_begin = kPreludeBytes + json_bytes;
    const uint64_t after_header = size - payload_begin;
    if (uint64_t(h.examples) > after_header / 16)
        fail("{}: {} examples need an offset table of {} bytes, only {} bytes follow the header", source, h.examples,
             uint64_t(h.examples) * 16, after_header);
    const uint64_t table_begin = size - uint64_t(h.examples) * 16;
    const uint64_t payload_bytes = table_begin - payload_begin;
    if (payload_bytes % 8 != 0)
        fail("{}: {} bytes of rows between header and offset table, not a whole number of 8-byte aligned blocks",
             source, payload_bytes);

    // Walk the table: each example's block must follow the one before and fit in the payload.
    // Its row count is bounded first (a row takes at least 8k + 4 bytes), so block_bytes cannot
    // overflow.
    const uint64_t k = uint64_t(h.k);
    cache.first_row_.resize(size_t(h.examples) + 1);
    cache.block_begin_.resize(size_t(h.examples));
    uint64_t next = 0, offset = 0;
    for (int64_t e = 0; e < h.examples; ++e) {
        const uint64_t first = read_u64(data + table_begin + uint64_t(e) * 16);
        const uint64_t rows = read_u64(data + table_begin + uint64_t(e) * 16 + 8);
        if (first != next) fail("{}: offset table: example {} starts at row {}, expected {}", source, e, first, next);
        if (rows > uint64_t(h.max_seq_len))
            fail("{}: offset table: example {} has {} rows, more than max_seq_len {}", source, e, rows, h.max_seq_len);
        if (rows > (payload_bytes - offset) / (8 * k + 4) || block_bytes(rows, k) > payload_bytes - offset)
            fail("{}: offset table: example {} (rows {} to {}) runs past the {} bytes of rows in the file", source, e,
                 next, next + rows, payload_bytes);
        cache.first_row_[size_t(e)] = int64_t(first);
        cache.block_begin_[size_t(e)] = offset;
        next += rows;
        offset += block_bytes(rows, k);
    }
    cache.first_row_[size_t(h.examples)] = int64_t(next);
    if (offset != payload_bytes)
        fail("{}: the offset table covers {} rows in {} bytes, the file holds {} bytes of rows (wrong length)", source,
             next, offset, payload_bytes);

    cache.payload_ = data + payload_begin;
    std::vector<int32_t> seen;
    for (int64_t e = 0; e < h.examples; ++e) {
        const Rows rows = cache.rows(e);
        for (int64_t r = 0; r < rows.count; ++r) {
            const std::string problem =
                row_problem(rows.ids + r * h.k, rows.logits + r * h.k, rows.lse[r], h.k, h.vocab_size, seen);
            if (!problem.empty()) fail("{}: example {}, row {}: {}", source, e, r, problem);
        }
    }
    cache.bytes_ = std::move(bytes);  // the mapping moves, its address does not
    return cache;
}

TeacherCache::Rows TeacherCache::rows(int64_t example) const {
    if (example < 0 || example >= header_.examples)
        fail("{}: example {} is not in the cache, which holds {} examples", path_, example, header_.examples);
    const int64_t first = first_row_[size_t(example)], count = first_row_[size_t(example) + 1] - first;
    // Example blocks lie one after another: all ids of a block, then all its logits, then its lse.
    const uint8_t* block = payload_ + block_begin_[size_t(example)];
    return {reinterpret_cast<const int32_t*>(block), reinterpret_cast<const float*>(block + count * header_.k * 4),
            count, reinterpret_cast<const float*>(block + count * header_.k * 8)};
}

void check_teacher_cache(const TeacherCache& cache, const std::string& path, const TeacherCacheHeader& expected) {
    const TeacherCacheHeader& h = cache.header();
    if (h.teacher_fingerprint != expected.teacher_fingerprint)
        fail(
            "{}: made with teacher {} (fingerprint {}), this run's teacher is {} (fingerprint {}); cache the teacher "
            "again",
            path, h.teacher_path, h.teacher_fingerprint, expected.teacher_path, expected.teacher_fingerprint);
    if (h.vocab_size != expected.vocab_size)
        fail("{}: made for a vocabulary of {} tokens, this run's is {}", path, h.vocab_size, expected.vocab_size);
    if (expected.k > 0 && h.k != expected.k)
        fail("{}: holds the top {} logits per row, this run asks for {}", path, h.k, expected.k);
    if (h.data_fingerprint != expected.data_fingerprint)
        fail("{}: made from other training data (data fingerprint {}), this run's data has fingerprint {}", path,
             hex64(h.data_fingerprint), hex64(expected.data_fingerprint));
    if (h.max_seq_len != expected.max_seq_len)
        fail("{}: made with max_seq_len {}, this run's is {}", path, h.max_seq_len, expected.max_seq_len);
    if (expected.examples > 0 && h.examples != expected.examples)
        fail("{}: holds {} examples, this run's data has {}", path, h.examples, expected.examples);
    if (expected.temperature > 0 && h.temperature != expected.temperature)
        fail("{}: made at temperature {}, this run distills at temperature {}; the cache's log-sum-exp of the "
             "teacher's logits is tied to its temperature: cache the teacher again at {}",
             path, h.temperature, expected.temperature, expected.temperature);
}

std::string model_fingerprint(const ModelFiles& files) {
    Fnv1a f;
    const ModelConfig& c = files.config;
    f.str(c.architecture);
    for (int v : {c.vocab_size, c.hidden_size, c.intermediate_size, c.num_layers, c.num_heads, c.num_kv_heads,
                  c.head_dim, c.max_position, c.sliding_window, int(c.tie_word_embeddings), int(c.attention_bias)})
        f.i64(v);
    for (double v : {c.rms_norm_eps, c.rope_theta, c.rope_scaling.factor, c.rope_scaling.low_freq_factor,
                     c.rope_scaling.high_freq_factor, c.rope_scaling.attention_factor, c.rope_scaling.beta_fast,
                     c.rope_scaling.beta_slow})
        f.f64(v);
    f.str(c.rope_scaling.type);
    f.i64(c.rope_scaling.original_max_position);
    f.str(c.hidden_act);
    // Sorted, so that the same tensors in another file order (another shard split) agree.
    std::vector<std::string> names = files.tensors->tensor_names();
    std::sort(names.begin(), names.end());
    constexpr size_t kSample = 4096;
    for (const std::string& name : names) {
        const std::optional<Tensor> t = files.tensors->find_tensor(name);
        if (!t) fail("{}: tensor '{}' is listed but cannot be read", files.tensors->describe(), name);
        f.str(name);
        f.str(std::string(traits(t->dtype).name));
        for (int64_t d : t->shape) f.i64(d);
        const size_t n = t->nbytes();
        f.i64(int64_t(n));
        const auto* bytes = static_cast<const uint8_t*>(t->data);
        const size_t head = std::min(n, kSample), tail = std::min(n - head, kSample);  // tail: not overlapping head
        f.bytes(bytes, head);
        f.bytes(bytes + n - tail, tail);
    }
    return hex64(f.value());
}

uint64_t data_fingerprint(const Dataset& data) {
    Fnv1a f;
    f.i64(int64_t(data.examples.size()));
    for (const Example& ex : data.examples) {
        f.i64(int64_t(ex.tokens.size()));
        f.bytes(ex.tokens.data(), ex.tokens.size() * sizeof(int32_t));
        f.bytes(ex.target.data(), ex.target.size());
    }
    return f.value();
}

double log_sum_exp(const float* logits, int64_t V, float temperature) {
    if (V < 1) fail("log_sum_exp: {} logits, expected 1 or more", V);
    if (!(temperature > 0.0f && std::isfinite(temperature)))
        fail("log_sum_exp: temperature is {}, expected a positive number", temperature);
    const double inv_tau = 1.0 / double(temperature);
    double max_s = -INFINITY;
    for (int64_t i = 0; i < V; ++i) {
        if (std::isnan(logits[i])) fail("log_sum_exp: logit {} is NaN", i);
        max_s = std::max(max_s, double(logits[i]) * inv_tau);
    }
    if (!std::isfinite(max_s)) return max_s;  // every logit -inf, or one +inf
    double sum = 0;
    for (int64_t i = 0; i < V; ++i) sum += std::exp(double(logits[i]) * inv_tau - max_s);
    return max_s + std::log(sum);
}

void top_k(const float* logits, int64_t V, int64_t k, int32_t* ids, float* values) {
    if (k < 1 || k > V) fail("top_k: k is {}, expected 1 to the {} logits", k, V);
    // A heap of the k best so far with the worst on top: one comparison per logit once it is full.
    struct Entry {
        float value;
        int32_t id;
    };
    const auto better = [](const Entry& a, const Entry& b) {
        return a.value > b.value || (a.value == b.value && a.id < b.id);
    };
    std::vector<Entry> heap;
    heap.reserve(size_t(k));
    for (int64_t i = 0; i < V; ++i) {
        if (std::isnan(logits[i])) fail("top_k: logit {} is NaN", i);
        const Entry e{logits[i], int32_t(i)};
        if (int64_t(heap.size()) < k) {
            heap.push_back(e);
            std::push_heap(heap.begin(), heap.end(), better);
        } else if (better(e, heap.front())) {
            std::pop_heap(heap.begin(), heap.end(), better);
            heap.back() = e;
            std::push_heap(heap.begin(), heap.end(), better);
        }
    }
    std::sort_heap(heap.begin(), heap.end(), better);
    for (int64_t j = 0; j < k; ++j) {
        ids[j] = heap[size_t(j)].id;
        values[j] = heap[size_t(j)].value;
    }
}

}  // namespace slm::train
