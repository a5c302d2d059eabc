// The teacher top-k logit cache: what is written reads back the same; a writer that does not
// finish leaves nothing; every kind of damaged file is an slm::Error naming the file (all
// truncations, each field made wrong, seeded byte mutations, a version 1 file); cache/run
// mismatches name the field; top_k agrees with a full sort; log_sum_exp with its definition; the
// fingerprints change with what they cover.
#include <slm/error.h>
#include <slm/model_config.h>

#include "testing/testing.h"
#include "train/dataset.h"
#include "train/teacher_cache.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace slm::train {
namespace {

namespace fs = std::filesystem;

// A fresh empty directory per test.
std::string test_dir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string dir = test::temp_dir() + "/teacher_cache_" + info->name();
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TeacherCacheHeader small_header() {
    TeacherCacheHeader h;
    h.teacher_fingerprint = "0123456789abcdef";
    h.teacher_path = "models/teacher";
    h.vocab_size = 50;
    h.k = 4;
    h.examples = 3;
    h.max_seq_len = 8;
    h.data_fingerprint = 0xfedcba9876543210ull;
    h.temperature = 2.0;
    return h;
}

// Rows as top_k makes them from random logits (with ties, from rounding), with each row's
// log_sum_exp at small_header()'s temperature.
struct ExampleRows {
    std::vector<int32_t> ids;
    std::vector<float> logits;
    std::vector<float> lse;
};
ExampleRows random_rows(int64_t rows, int64_t V, int64_t k, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    ExampleRows out{std::vector<int32_t>(size_t(rows * k)), std::vector<float>(size_t(rows * k)),
                    std::vector<float>(static_cast<size_t>(rows))};
    std::vector<float> row(static_cast<size_t>(V));
    for (int64_t r = 0; r < rows; ++r) {
        for (float& x : row) x = std::round(dist(rng) * 2.0f) / 2.0f;
        top_k(row.data(), V, k, out.ids.data() + r * k, out.logits.data() + r * k);
        out.lse[size_t(r)] = float(log_sum_exp(row.data(), V, float(small_header().temperature)));
    }
    return out;
}

const std::vector<int64_t> kRowCounts = {2, 0, 3};

// The small cache of small_header(): examples of 2, 0 and 3 rows.
std::string write_small_cache(const std::string& path, std::vector<ExampleRows>* rows_out = nullptr) {
    const TeacherCacheHeader h = small_header();
    TeacherCacheWriter writer(path, h);
    for (int64_t e = 0; e < h.examples; ++e) {
        const ExampleRows rows = random_rows(kRowCounts[size_t(e)], h.vocab_size, h.k, uint32_t(10 + e));
        writer.add(e, kRowCounts[size_t(e)], rows.ids.data(), rows.logits.data(), rows.lse.data());
        if (rows_out != nullptr) rows_out->push_back(rows);
    }
    writer.finish();
    return read_bytes(path);
}

// Runs `fn` and returns the slm::Error's message ("" when nothing was thrown).
std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

#define EXPECT_ERROR_HAS(message, ...)                                                            \
    do {                                                                                          \
        const std::string m_ = (message);                                                         \
        EXPECT_FALSE(m_.empty()) << "no error";                                                   \
        for (const char* part : {__VA_ARGS__}) EXPECT_NE(m_.find(part), std::string::npos) << m_; \
    } while (0)

// --- the file format, built by hand: prelude, JSON, payload, table -------------------------------

std::string u32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string u64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }

std::string image(std::string json, const std::string& payload, const std::vector<std::pair<uint64_t, uint64_t>>& table,
                  uint32_t version = 2) {
    json.resize((json.size() + 7) / 8 * 8, ' ');
    std::string out = std::string("SLMTOPK\0", 8) + u32(version) + u32(uint32_t(json.size())) + json + payload;
    for (const auto& [first, rows] : table) out += u64(first) + u64(rows);
    return out;
}

std::string json_header(const std::map<std::string, std::string>& changes = {}) {
    std::map<std::string, std::string> fields = {{"teacher_fingerprint", "\"abc\""},
                                                 {"teacher", "\"t\""},
                                                 {"vocab_size", "10"},
                                                 {"k", "2"},
                                                 {"examples", "2"},
                                                 {"max_seq_len", "4"},
                                                 {"data_fingerprint", "\"00000000000000ff\""},
                                                 {"temperature", "2"}};
    for (const auto& [key, value] : changes) {
        if (value.empty())
            fields.erase(key);
        else
            fields[key] = value;
    }
    std::string out = "{";
    for (const auto& [key, value] : fields) out += fmt::format("{}\"{}\":{}", out.size() > 1 ? "," : "", key, value);
    return out + "}";
}

// One example's block: ids, logits, lse, and 4 bytes of padding after an odd number of rows.
std::string block(const std::vector<int32_t>& ids, const std::vector<float>& logits, const std::vector<float>& lse) {
    return std::string(reinterpret_cast<const char*>(ids.data()), ids.size() * 4) +
           std::string(reinterpret_cast<const char*>(logits.data()), logits.size() * 4) +
           std::string(reinterpret_cast<const char*>(lse.data()), lse.size() * 4) + std::string(lse.size() % 2 * 4, '\0');
}

// The payload of hand_image(), k = 2: example 0 has one row (a 24-byte block), example 1 two
// (40 bytes).
std::string hand_payload() {
    return block({3, 1}, {2.0f, 1.0f}, {2.5f}) + block({0, 9, 5, 6}, {4.0f, 4.0f, -1.0f, -2.0f}, {3.0f, 0.5f});
}

// A valid hand-built image.
std::string hand_image(const std::map<std::string, std::string>& changes = {}) {
    return image(json_header(changes), hand_payload(), {{0, 1}, {1, 2}});
}

Buffer buffer_of(const std::string& bytes) {
    Buffer b = Buffer::allocate(bytes.size());
    if (!bytes.empty()) std::memcpy(b.data(), bytes.data(), bytes.size());
    return b;
}

std::string open_error(const std::string& bytes) {
    return error_of([&] { (void)TeacherCache::from_buffer(buffer_of(bytes), "cache.bin"); });
}

// --- tests ------------------------------------------------------------------------------------

TEST(TeacherCache, RoundTrip) {
    const std::string dir = test_dir(), path = dir + "/teacher.cache";
    std::vector<ExampleRows> written;
    write_small_cache(path, &written);
    EXPECT_EQ(files_in(dir), std::vector<std::string>{"teacher.cache"});  // no temporary file left

    const TeacherCache cache = TeacherCache::open(path);
    const TeacherCacheHeader& h = cache.header();
    const TeacherCacheHeader want = small_header();
    EXPECT_EQ(h.teacher_fingerprint, want.teacher_fingerprint);
    EXPECT_EQ(h.teacher_path, want.teacher_path);
    EXPECT_EQ(h.vocab_size, want.vocab_size);
    EXPECT_EQ(h.k, want.k);
    EXPECT_EQ(h.examples, want.examples);
    EXPECT_EQ(h.max_seq_len, want.max_seq_len);
    EXPECT_EQ(h.data_fingerprint, want.data_fingerprint);
    EXPECT_EQ(h.temperature, want.temperature);
    for (int64_t e = 0; e < h.examples; ++e) {
        const TeacherCache::Rows rows = cache.rows(e);
        ASSERT_EQ(rows.count, kRowCounts[size_t(e)]);
        const size_t n = size_t(rows.count * h.k);
        EXPECT_EQ(std::vector<int32_t>(rows.ids, rows.ids + n), written[size_t(e)].ids) << "example " << e;
        EXPECT_EQ(std::vector<float>(rows.logits, rows.logits + n), written[size_t(e)].logits) << "example " << e;
        EXPECT_EQ(std::vector<float>(rows.lse, rows.lse + rows.count), written[size_t(e)].lse) << "example " << e;
        if (rows.count > 0) {  // every block 8-aligned in the file, so in the 8-aligned mapping
            EXPECT_EQ(reinterpret_cast<uintptr_t>(rows.ids) % 8, 0u) << "example " << e;
        }
    }
    EXPECT_ERROR_HAS(error_of([&] { (void)cache.rows(3); }), "teacher.cache", "example 3", "3 examples");
    EXPECT_ERROR_HAS(error_of([&] { (void)cache.rows(-1); }), "example -1");

    // The hand-built image reads as the format says.
    const TeacherCache hand = TeacherCache::from_buffer(buffer_of(hand_image()), "hand");
    EXPECT_EQ(hand.header().data_fingerprint, 0xffu);
    EXPECT_EQ(hand.header().temperature, 2.0);
    EXPECT_EQ(*hand.rows(0).lse, 2.5f);
    const TeacherCache::Rows second = hand.rows(1);
    ASSERT_EQ(second.count, 2);
    EXPECT_EQ(std::vector<int32_t>(second.ids, second.ids + 4), (std::vector<int32_t>{0, 9, 5, 6}));
    EXPECT_EQ(std::vector<float>(second.logits, second.logits + 4), (std::vector<float>{4, 4, -1, -2}));
    EXPECT_EQ(std::vector<float>(second.lse, second.lse + 2), (std::vector<float>{3.0f, 0.5f}));
}

TEST(TeacherCache, WriterThatDoesNotFinishLeavesNoFile) {
    const std::string dir = test_dir(), path = dir + "/teacher.cache";
    const ExampleRows rows = random_rows(2, 50, 4, 1);
    {
        TeacherCacheWriter writer(path, small_header());
        writer.add(0, 2, rows.ids.data(), rows.logits.data(), rows.lse.data());
        EXPECT_FALSE(files_in(dir).empty());  // the temporary file exists while writing
    }
    EXPECT_TRUE(files_in(dir).empty());
    {  // the same after an error mid-way
        TeacherCacheWriter writer(path, small_header());
        writer.add(0, 2, rows.ids.data(), rows.logits.data(), rows.lse.data());
        EXPECT_ERROR_HAS(error_of([&] { writer.finish(); }), "teacher.cache", "1 of the header's 3 examples");
    }
    EXPECT_TRUE(files_in(dir).empty());
    // A finished cache is not touched by a later writer that fails.
    const std::string first = write_small_cache(path);
    { TeacherCacheWriter writer(path, small_header()); }
    EXPECT_EQ(read_bytes(path), first);
    EXPECT_EQ(files_in(dir), std::vector<std::string>{"teacher.cache"});
}

TEST(TeacherCache, WriterRejectsWhatTheFormatForbids) {
    const std::string dir = test_dir(), path = dir + "/teacher.cache";
    TeacherCacheHeader bad = small_header();
    bad.k = 51;
    EXPECT_ERROR_HAS(error_of([&] { TeacherCacheWriter(path, bad); }), "teacher.cache", "k is 51");
    bad = small_header();
    bad.vocab_size = 0;
    EXPECT_ERROR_HAS(error_of([&] { TeacherCacheWriter(path, bad); }), "vocab_size is 0");
    bad = small_header();
    bad.temperature = 0;  // unset: the lse values would be at no known temperature
    EXPECT_ERROR_HAS(error_of([&] { TeacherCacheWriter(path, bad); }), "temperature is 0");

    TeacherCacheWriter writer(path, small_header());
    const ExampleRows rows = random_rows(1, 50, 4, 2);
    const auto add = [&](int64_t example, int64_t n, const std::vector<int32_t>& ids, const std::vector<float>& logits,
                         const std::vector<float>& lse) {
        return error_of([&] { writer.add(example, n, ids.data(), logits.data(), lse.data()); });
    };
    EXPECT_ERROR_HAS(add(1, 1, rows.ids, rows.logits, rows.lse), "example 1 added where example 0");
    EXPECT_ERROR_HAS(add(0, 9, rows.ids, rows.logits, rows.lse), "9 rows", "max_seq_len 8");
    std::vector<int32_t> ids = rows.ids;
    std::vector<float> logits = rows.logits;
    ids[2] = 50;
    EXPECT_ERROR_HAS(add(0, 1, ids, logits, rows.lse), "row 0", "id 50 at entry 2");
    ids = rows.ids;
    std::swap(logits[0], logits[3]);
    EXPECT_ERROR_HAS(add(0, 1, ids, logits, rows.lse), "not sorted");
    logits = rows.logits;
    logits[1] = NAN;
    EXPECT_ERROR_HAS(add(0, 1, ids, logits, rows.lse), "logit nan at entry 1 is not finite");
    EXPECT_ERROR_HAS(add(0, 1, rows.ids, rows.logits, {INFINITY}), "row 0", "lse inf is not finite");
    writer.add(0, 1, rows.ids.data(), rows.logits.data(), rows.lse.data());
    writer.add(1, 0, nullptr, nullptr, nullptr);
    writer.add(2, 0, nullptr, nullptr, nullptr);
    EXPECT_ERROR_HAS(error_of([&] { writer.add(3, 0, nullptr, nullptr, nullptr); }), "past the 3 examples");
    writer.finish();
    EXPECT_ERROR_HAS(error_of([&] { writer.add(3, 0, nullptr, nullptr, nullptr); }), "after finish");
    EXPECT_EQ(TeacherCache::open(path).rows(0).count, 1);
}

TEST(TeacherCache, EveryTruncationIsAnErrorNamingTheFile) {
    const std::string dir = test_dir(), path = dir + "/teacher.cache";
    const std::string bytes = write_small_cache(path);
    const std::string cut = dir + "/cut.cache";
    for (size_t n = 0; n < bytes.size(); ++n) {
        write_bytes(cut, bytes.substr(0, n));
        const std::string message = error_of([&] { (void)TeacherCache::open(cut); });
        EXPECT_NE(message.find("cut.cache"), std::string::npos) << "truncated to " << n << ": " << message;
    }
    write_bytes(cut, bytes + std::string(16, '\0'));  // one table entry too many, or rows past the end
    EXPECT_ERROR_HAS(error_of([&] { (void)TeacherCache::open(cut); }), "cut.cache");
    EXPECT_ERROR_HAS(error_of([&] { (void)TeacherCache::open(dir + "/absent.cache"); }), "absent.cache");
}

TEST(TeacherCache, EachDamagedFieldIsNamed) {
    EXPECT_EQ(open_error(hand_image()), "");
    std::string flipped = hand_image();
    flipped[0] = 'X';
    EXPECT_ERROR_HAS(open_error(flipped), "cache.bin", "not a teacher logit cache");
    EXPECT_ERROR_HAS(open_error(std::string("SLMTOPK\0", 8) + u32(3) + hand_image().substr(12)), "cache.bin",
                     "version 3, this build reads version 2");
    std::string odd = hand_image();
    odd[12] = char(odd[12] + 1);
    EXPECT_ERROR_HAS(open_error(odd), "not a multiple of 8");
    std::string long_json = hand_image();
    long_json[14] = char(0x10);  // a header length far past the end
    EXPECT_ERROR_HAS(open_error(long_json), "runs past the end");

    const std::string payload = hand_payload();
    const std::vector<std::pair<uint64_t, uint64_t>> table = {{0, 1}, {1, 2}};
    EXPECT_ERROR_HAS(open_error(image("{\"k\": 2,", payload, table)), "cache.bin", "not valid JSON");
    EXPECT_ERROR_HAS(open_error(image("[1, 2]", payload, table)), "expected an object");
    EXPECT_ERROR_HAS(open_error(hand_image({{"k", ""}})), "header has no \"k\"");
    EXPECT_ERROR_HAS(open_error(hand_image({{"k", "2.5"}})), "\"k\" is 2.5, expected an integer");
    EXPECT_ERROR_HAS(open_error(hand_image({{"k", "true"}})), "\"k\" is true");
    EXPECT_ERROR_HAS(open_error(hand_image({{"k", "18446744073709551615"}})), "too large");
    EXPECT_ERROR_HAS(open_error(hand_image({{"teacher", "3"}})), "\"teacher\" is 3, expected a string");
    EXPECT_ERROR_HAS(open_error(hand_image({{"data_fingerprint", "\"xyz\""}})), "16 hex digits");
    EXPECT_ERROR_HAS(open_error(hand_image({{"data_fingerprint", "255"}})), "expected a string");
    EXPECT_ERROR_HAS(open_error(hand_image({{"vocab_size", "0"}})), "vocab_size is 0");
    EXPECT_ERROR_HAS(open_error(hand_image({{"vocab_size", "4294967296"}})), "vocab_size is 4294967296");
    EXPECT_ERROR_HAS(open_error(hand_image({{"k", "11"}})), "k is 11");
    EXPECT_ERROR_HAS(open_error(hand_image({{"examples", "-1"}})), "examples is -1");
    EXPECT_ERROR_HAS(open_error(hand_image({{"max_seq_len", "1"}})), "example 1 has 2 rows, more than max_seq_len 1");
    EXPECT_ERROR_HAS(open_error(hand_image({{"examples", "1000000000000"}})), "offset table of");
    EXPECT_ERROR_HAS(open_error(hand_image({{"examples", "3"}})), "cache.bin");
    EXPECT_ERROR_HAS(open_error(hand_image({{"examples", "1"}})), "cache.bin");
    EXPECT_ERROR_HAS(open_error(hand_image({{"temperature", ""}})), "header has no \"temperature\"");
    EXPECT_ERROR_HAS(open_error(hand_image({{"temperature", "\"2\""}})), "\"temperature\" is \"2\", expected a number");
    EXPECT_ERROR_HAS(open_error(hand_image({{"temperature", "0"}})), "temperature is 0");
    EXPECT_ERROR_HAS(open_error(hand_image({{"temperature", "-1.5"}})), "temperature is -1.5");
    EXPECT_EQ(open_error(hand_image({{"temperature", "0.5"}})), "");

    // The offset table and the rows.
    const std::string json = json_header();
    EXPECT_ERROR_HAS(open_error(image(json, payload, {{0, 1}, {2, 2}})), "example 1 starts at row 2, expected 1");
    EXPECT_ERROR_HAS(open_error(image(json, payload, {{0, 1}, {1, 3}})),
                     "example 1 (rows 1 to 4) runs past the 64 bytes of rows");
    EXPECT_ERROR_HAS(open_error(image(json, payload, {{0, 1}, {1, 1}})),
                     "covers 2 rows in 48 bytes, the file holds 64 bytes of rows");
    EXPECT_ERROR_HAS(open_error(image(json, payload, {{0, 1}, {1, ~0ull}})), "example 1 has 18446744073709551615 rows");
    EXPECT_ERROR_HAS(open_error(image(json, payload + "1234", table)), "68 bytes of rows", "not a whole number");
    // Without the padding after example 0's odd row count, every later block is misplaced.
    EXPECT_ERROR_HAS(open_error(image(json, hand_payload().erase(20, 4) + "1234", table)), "cache.bin");
    const std::string first = block({3, 1}, {2.0f, 1.0f}, {2.5f});
    const auto with_second = [&](std::vector<int32_t> ids, std::vector<float> logits,
                                 std::vector<float> lse = {3.0f, 0.5f}) {
        return open_error(image(json, first + block(ids, logits, lse), table));
    };
    EXPECT_ERROR_HAS(with_second({0, 10, 5, 6}, {4, 4, -1, -2}), "cache.bin", "example 1, row 0", "id 10 at entry 1");
    EXPECT_ERROR_HAS(with_second({0, 9, -5, 6}, {4, 4, -1, -2}), "example 1, row 1", "id -5 at entry 0");
    EXPECT_ERROR_HAS(with_second({9, 0, 5, 6}, {4, 4, -1, -2}), "example 1, row 0", "not sorted");
    EXPECT_ERROR_HAS(with_second({0, 9, 5, 6}, {4, 4, -2, -1}), "example 1, row 1", "not sorted");
    EXPECT_ERROR_HAS(with_second({0, 9, 5, 6}, {4, INFINITY, -1, -2}), "not finite");
    EXPECT_ERROR_HAS(with_second({0, 0, 5, 6}, {4, 3, -1, -2}), "id 0 appears twice");
    EXPECT_ERROR_HAS(with_second({0, 9, 5, 6}, {4, 4, -1, -2}, {3.0f, NAN}), "example 1, row 1", "lse nan is not finite");
    EXPECT_ERROR_HAS(with_second({0, 9, 5, 6}, {4, 4, -1, -2}, {-INFINITY, 0.5f}), "example 1, row 0",
                     "lse -inf is not finite");
}

TEST(TeacherCache, VersionOneIsRefusedWithHowToRemakeIt) {
    // Version 1: the same prelude and header without temperature, blocks of ids and logits only.
    const std::string ids_logits = std::string(reinterpret_cast<const char*>(std::vector<int32_t>{3, 1}.data()), 8) +
                                   std::string(reinterpret_cast<const char*>(std::vector<float>{2, 1}.data()), 8);
    const std::string v1 = image(json_header({{"temperature", ""}, {"examples", "1"}}), ids_logits, {{0, 1}}, 1);
    EXPECT_ERROR_HAS(open_error(v1), "cache.bin", "version 1", "re-create it with slm distill --cache-teacher");
}

TEST(TeacherCache, MutatedFilesParseOrFailCleanly) {
    // Seeded mutations of a valid file, biased towards the prelude, header and table: each parses
    // (and then every row lies inside the file) or throws slm::Error; nothing else.
    const std::string dir = test_dir();
    const std::string bytes = write_small_cache(dir + "/teacher.cache");
    std::mt19937 rng(7);
    for (int i = 0; i < 3000; ++i) {
        std::string m = bytes;
        for (int e = 1 + int(rng() % 4); e > 0; --e) {
            const size_t limit = rng() % 2 ? std::min<size_t>(m.size(), 200) : m.size();
            const size_t pos = rng() % 4 == 0 ? m.size() - 1 - rng() % 48 : rng() % limit;
            const uint32_t kind = rng() % 3;
            m[pos] = char(kind == 0 ? 0x00 : kind == 1 ? 0xff : uint8_t(rng()));
        }
        try {
            Buffer b = buffer_of(m);
            const uint8_t *begin = b.data(), *end = b.data() + b.size();
            const TeacherCache cache = TeacherCache::from_buffer(std::move(b), "mutated");
            for (int64_t e = 0; e < cache.header().examples; ++e) {
                const TeacherCache::Rows rows = cache.rows(e);
                const auto* last = reinterpret_cast<const uint8_t*>(rows.lse + rows.count);
                if (rows.count > 0 && (reinterpret_cast<const uint8_t*>(rows.ids) < begin || last > end))
                    ADD_FAILURE() << "mutation " << i << ": example " << e << " reads outside the file";
            }
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("mutated"), std::string::npos) << e.what();
        } catch (const std::exception& e) {
            ADD_FAILURE() << "mutation " << i << ": threw " << e.what();
        }
    }
}

TEST(TeacherCache, CheckNamesTheMismatchingField) {
    const std::string dir = test_dir(), path = dir + "/teacher.cache";
    write_small_cache(path);
    const TeacherCache cache = TeacherCache::open(path);
    const TeacherCacheHeader ok = small_header();
    EXPECT_EQ(error_of([&] { check_teacher_cache(cache, path, ok); }), "");
    TeacherCacheHeader any_k = ok;
    any_k.k = 0;
    any_k.examples = 0;
    EXPECT_EQ(error_of([&] { check_teacher_cache(cache, path, any_k); }), "");

    TeacherCacheHeader other = ok;
    other.teacher_fingerprint = "1111111111111111";
    other.teacher_path = "models/other";
    EXPECT_ERROR_HAS(error_of([&] { check_teacher_cache(cache, path, other); }), "teacher.cache",
                     "made with teacher models/teacher (fingerprint 0123456789abcdef)",
                     "this run's teacher is models/other (fingerprint 1111111111111111)");
    other = ok;
    other.vocab_size = 51;
    EXPECT_ERROR_HAS(error_of([&] { check_teacher_cache(cache, path, other); }), "vocabulary of 50 tokens", "is 51");
    other = ok;
    other.k = 8;
    EXPECT_ERROR_HAS(error_of([&] { check_teacher_cache(cache, path, other); }), "top 4 logits", "asks for 8");
    other = ok;
    other.data_fingerprint = 1;
    EXPECT_ERROR_HAS(error_of([&] { check_teacher_cache(cache, path, other); }), "fedcba9876543210",
                     "0000000000000001");
    other = ok;
    other.max_seq_len = 16;
    EXPECT_ERROR_HAS(error_of([&] { check_teacher_cache(cache, path, other); }), "max_seq_len 8", "is 16");
    other = ok;
    other.examples = 4;
    EXPECT_ERROR_HAS(error_of([&] { check_teacher_cache(cache, path, other); }), "holds 3 examples", "has 4");
    other = ok;
    other.temperature = 1.5;
    EXPECT_ERROR_HAS(error_of([&] { check_teacher_cache(cache, path, other); }), "teacher.cache", "temperature 2",
                     "temperature 1.5", "log-sum-exp", "tied to its temperature");
    other.temperature = 0;  // not asked
    EXPECT_EQ(error_of([&] { check_teacher_cache(cache, path, other); }), "");
}

TEST(TeacherCache, LogSumExpIsItsDefinitionWithoutOverflow) {
    const std::vector<float> small = {0.5f, -1.0f, 2.0f, 0.0f};
    for (float tau : {1.0f, 2.0f, 0.25f}) {
        double sum = 0;
        for (float x : small) sum += std::exp(double(x) / tau);
        EXPECT_NEAR(log_sum_exp(small.data(), 4, tau), std::log(sum), 1e-12) << "tau " << tau;
    }
    // Shifted by the max: exp(1000) overflows double, the result does not.
    const std::vector<float> large = {1000.0f, 1000.0f, -INFINITY};
    EXPECT_NEAR(log_sum_exp(large.data(), 3, 1.0f), 1000.0 + std::log(2.0), 1e-9);
    EXPECT_NEAR(log_sum_exp(large.data(), 3, 2.0f), 500.0 + std::log(2.0), 1e-9);
    const std::vector<float> masked = {-INFINITY, -INFINITY};
    EXPECT_EQ(log_sum_exp(masked.data(), 2, 1.0f), -INFINITY);
    const std::vector<float> nan = {1.0f, NAN};
    EXPECT_ERROR_HAS(error_of([&] { (void)log_sum_exp(nan.data(), 2, 1.0f); }), "logit 1 is NaN");
    EXPECT_ERROR_HAS(error_of([&] { (void)log_sum_exp(small.data(), 0, 1.0f); }), "0 logits");
    EXPECT_ERROR_HAS(error_of([&] { (void)log_sum_exp(small.data(), 4, 0.0f); }), "temperature is 0");
}

TEST(TeacherCache, TopKIsTheHeadOfAFullSort) {
    std::mt19937 rng(3);
    for (int64_t V : {1, 7, 64, 1000}) {
        for (int64_t k : {int64_t(1), std::min<int64_t>(V, 5), V}) {
            std::vector<float> logits(static_cast<size_t>(V));
            for (float& x : logits) x = float(int(rng() % 9)) - 4.0f;  // many ties
            logits[size_t(V - 1)] = -INFINITY;
            std::vector<int32_t> order(static_cast<size_t>(V));
            std::iota(order.begin(), order.end(), 0);
            std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
                return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b);
            });
            std::vector<int32_t> ids(static_cast<size_t>(k));
            std::vector<float> values(static_cast<size_t>(k));
            top_k(logits.data(), V, k, ids.data(), values.data());
            EXPECT_EQ(ids, std::vector<int32_t>(order.begin(), order.begin() + k)) << "V=" << V << " k=" << k;
            for (int64_t j = 0; j < k; ++j) EXPECT_EQ(values[size_t(j)], logits[size_t(ids[size_t(j)])]);
        }
    }
    std::vector<float> row = {1.0f, NAN, 2.0f};
    int32_t id[3];
    float value[3];
    EXPECT_ERROR_HAS(error_of([&] { top_k(row.data(), 3, 2, id, value); }), "logit 1 is NaN");
    EXPECT_ERROR_HAS(error_of([&] { top_k(row.data(), 3, 4, id, value); }), "k is 4");
    EXPECT_ERROR_HAS(error_of([&] { top_k(row.data(), 3, 0, id, value); }), "k is 0");
}

TEST(TeacherCache, DataFingerprintFollowsTokensAndMask) {
    Dataset data;
    data.examples = {{{1, 2, 3}, {0, 1, 1}}, {{4, 5}, {0, 1}}};
    const uint64_t base = data_fingerprint(data);
    EXPECT_EQ(data_fingerprint(data), base);
    Dataset other = data;
    other.path = "elsewhere.jsonl";  // where the data came from does not count
    EXPECT_EQ(data_fingerprint(other), base);
    other.examples[1].tokens[0] = 6;
    EXPECT_NE(data_fingerprint(other), base);
    other = data;
    other.examples[0].target[1] = 0;
    EXPECT_NE(data_fingerprint(other), base);
    other = data;  // the same tokens split differently between examples
    other.examples = {{{1, 2}, {0, 1}}, {{3, 4, 5}, {1, 0, 1}}};
    EXPECT_NE(data_fingerprint(other), base);
}

// Tensors held in memory, for model_fingerprint.
class MemoryTensors : public TensorSource {
public:
    std::map<std::string, std::pair<Tensor, std::vector<uint8_t>>> tensors;
    void add(const std::string& name, DType dtype, std::vector<int64_t> shape, size_t bytes) {
        std::vector<uint8_t> data(bytes);
        for (size_t i = 0; i < bytes; ++i) data[i] = uint8_t(i * 7 + name.size());
        tensors[name] = {Tensor{dtype, std::move(shape), nullptr}, std::move(data)};
    }
    std::vector<std::string> tensor_names() const override {
        std::vector<std::string> names;
        for (const auto& [name, t] : tensors) names.push_back(name);
        return names;
    }
    std::optional<Tensor> find_tensor(const std::string& name) const override {
        const auto it = tensors.find(name);
        if (it == tensors.end()) return std::nullopt;
        Tensor t = it->second.first;
        t.data = const_cast<uint8_t*>(it->second.second.data());
        return t;
    }
    std::string describe() const override { return "memory"; }
};

TEST(TeacherCache, ModelFingerprintFollowsConfigTensorsAndWeights) {
    const auto model = [](const std::function<void(ModelConfig&, MemoryTensors&)>& change) {
        ModelFiles files;
        files.config.architecture = "llama";
        files.config.vocab_size = 32;
        files.config.hidden_size = 16;
        auto tensors = std::make_unique<MemoryTensors>();
        tensors->add("embed", DType::f32, {32, 16}, 32 * 16 * 4);
        tensors->add("big", DType::f32, {16, 1024}, 16 * 1024 * 4);  // 64 KiB: sampled at both ends
        change(files.config, *tensors);
        files.tensors = std::move(tensors);
        return model_fingerprint(files);
    };
    const std::string base = model([](ModelConfig&, MemoryTensors&) {});
    EXPECT_EQ(base.size(), 16u);
    EXPECT_EQ(model([](ModelConfig&, MemoryTensors&) {}), base);
    EXPECT_NE(model([](ModelConfig& c, MemoryTensors&) { c.rope_theta = 500000; }), base);
    EXPECT_NE(model([](ModelConfig& c, MemoryTensors&) { c.architecture = "qwen2"; }), base);
    EXPECT_NE(model([](ModelConfig&, MemoryTensors& t) { t.tensors["big"].second[5] ^= 1; }), base);
    EXPECT_NE(model([](ModelConfig&, MemoryTensors& t) { t.tensors["big"].second[65535] ^= 1; }), base);
    EXPECT_NE(model([](ModelConfig&, MemoryTensors& t) { t.tensors["embed"].first.shape = {16, 32}; }), base);
    EXPECT_NE(model([](ModelConfig&, MemoryTensors& t) { t.tensors["embed"].first.dtype = DType::i32; }), base);
    EXPECT_NE(model([](ModelConfig&, MemoryTensors& t) { t.add("extra", DType::f32, {1}, 4); }), base);
    // The middle of a large tensor is not read: a fingerprint, not a checksum.
    EXPECT_EQ(model([](ModelConfig&, MemoryTensors& t) { t.tensors["big"].second[30000] ^= 1; }), base);
}

}  // namespace
}  // namespace slm::train
