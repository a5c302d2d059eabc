// The teacher's top-k logits for every loss row of a dataset, computed once (`slm distill
// --cache-teacher`) and read back by later runs instead of running the teacher; plus the
// fingerprints that tell whether a cache still matches the teacher and data of a run.
//
// File format, version 2 (little-endian; the JSON header, every example block and the offset
// table start at multiples of 8, so the mapped ids, logits and lse are read in place):
//   0   magic       8 bytes "SLMTOPK\0"
//   8   version     u32 = 2
//   12  json_bytes  u32: length of the JSON header that follows, a multiple of 8 (padded with spaces)
//   16  JSON header {"teacher_fingerprint": str, "teacher": str (the teacher's path, for messages),
//                    "vocab_size": int, "k": int, "examples": int, "max_seq_len": int,
//                    "data_fingerprint": str (16 hex digits), "temperature": number > 0 (the tau
//                    of the lse values)}; other keys are ignored
//   16 + json_bytes: payload, for each example in order, a block of its R rows:
//                    ids: int32 [R, k], then logits: f32 [R, k]; each row sorted by logit
//                    descending (ties: smaller id first), ids distinct and in [0, vocab_size),
//                    the raw logits (before any temperature);
//                    then lse: f32 [R], each row's log sum_i exp(logit_i / temperature) over the
//                    teacher's WHOLE vocabulary (finite): with it the k logits give the teacher's
//                    exact probabilities and the mass outside them (kernels::TeacherLogits);
//                    then 4 zero bytes when R is odd, so that the block is R (8k + 4) bytes
//                    rounded up to a multiple of 8 and the next block stays 8-aligned
//   file end - 16 * examples: offset table, per example: u64 first row (the rows before it), u64 R
// The table comes last because the writer learns each example's row count only as the teacher
// runs, and streams rows to disk rather than holding a whole dataset's logits in memory.
// Version 1 (the same without temperature and lse) is refused: its k logits alone give only the
// teacher's distribution renormalized over them, a sharper one than the teacher's.
#pragma once

#include <slm/tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace slm {
struct ModelFiles;
class AtomicFileWriter;
}  // namespace slm

namespace slm::train {

struct Dataset;

struct TeacherCacheHeader {
    std::string teacher_fingerprint;  // model_fingerprint of the teacher
    std::string teacher_path;         // as the user named it; only for messages
    int64_t vocab_size = 0;
    int64_t k = 0;  // logits kept per row
    int64_t examples = 0;
    int64_t max_seq_len = 0;        // the data's truncation length, which decides the rows
    uint64_t data_fingerprint = 0;  // data_fingerprint of the examples
    double temperature = 0;         // the tau of the lse values: the distillation temperature
};

// Writes a cache a row block at a time into a temporary file beside `path` (AtomicFileWriter),
// renamed into place by finish(): a run killed while caching leaves no cache rather than a short
// one. Destroyed without finish(), the temporary file is removed.
class TeacherCacheWriter {
public:
    TeacherCacheWriter(std::string path, TeacherCacheHeader header);
    ~TeacherCacheWriter();
    TeacherCacheWriter(const TeacherCacheWriter&) = delete;
    TeacherCacheWriter& operator=(const TeacherCacheWriter&) = delete;

    // The rows of `example` (0, 1, 2, … in order): ids and logits [rows, k], each row as top_k
    // gives it, and lse [rows], each row's log_sum_exp at the header's temperature. fail()s on an
    // example out of order, rows outside [0, max_seq_len] or a row that is not sorted, has an id
    // outside the vocabulary, a logit or an lse that is not finite.
    void add(int64_t example, int64_t rows, const int32_t* ids, const float* logits, const float* lse);
    // Checks that every example was added, writes the offset table, fsyncs and renames into place.
    void finish();

private:
    std::string path_;
    TeacherCacheHeader header_;
    std::unique_ptr<AtomicFileWriter> file_;
    std::vector<uint64_t> rows_;  // per example added so far
};

class TeacherCache {
public:
    // Maps the file and checks all of it (see the format above): every error is an slm::Error
    // naming the path and what is wrong; a truncated or hostile file is never read out of bounds.
    static TeacherCache open(const std::string& path);
    // The same checks on bytes already in memory (tests, fuzzing); `source` names them in errors.
    static TeacherCache from_buffer(Buffer bytes, const std::string& source);

    const TeacherCacheHeader& header() const { return header_; }
    const std::string& path() const { return path_; }

    // One example's rows: ids and logits [count, k], lse [count]. fail()s on an example outside
    // the cache.
    struct Rows {
        const int32_t* ids = nullptr;
        const float* logits = nullptr;
        int64_t count = 0;
        const float* lse = nullptr;
    };
    Rows rows(int64_t example) const;

private:
    TeacherCache() = default;
    Buffer bytes_;
    std::string path_;
    TeacherCacheHeader header_;
    const uint8_t* payload_ = nullptr;
    std::vector<int64_t> first_row_;  // [examples + 1]: example e's rows are [first_row_[e], first_row_[e + 1])
    std::vector<uint64_t> block_begin_;  // [examples]: byte offset of example e's block in the payload
};

// Checks that a cache fits the run about to use it: the teacher (by fingerprint), vocab size, k,
// example count, data fingerprint, max_seq_len and temperature of `expected` (k, examples and
// temperature only when > 0).
// fail()s naming `path` and the first field that differs, with both values.
void check_teacher_cache(const TeacherCache& cache, const std::string& path, const TeacherCacheHeader& expected);

// A fingerprint of a model (16 hex digits of FNV-1a 64) over its config's fields, every tensor's
// name, dtype and shape, and the first and last 4 KiB of each tensor's bytes: it changes when the
// teacher is another model, another quantization or a fine-tune of it (every weight moves), while
// reading a few pages per tensor rather than gigabytes. Not a checksum against corruption.
std::string model_fingerprint(const ModelFiles& files);

// FNV-1a 64 over every example's tokens and loss mask, in order.
uint64_t data_fingerprint(const Dataset& data);

// The k largest of logits[0, V) sorted descending, ties broken by the smaller id: ids and values
// [k]. fail()s on k outside [1, V] or a NaN logit.
void top_k(const float* logits, int64_t V, int64_t k, int32_t* ids, float* values);

// log sum_i exp(logits[i] / temperature) over logits[0, V), shifted by the max and summed in
// double: a cache row's lse. -inf when every logit is -inf (+inf when one is). fail()s on V < 1,
// a NaN logit or a temperature that is not positive and finite.
double log_sum_exp(const float* logits, int64_t V, float temperature);

}  // namespace slm::train
