// File helpers shared by every reader and writer: whole-file reads with clear errors, and
// AtomicFileWriter, which makes a write of a model, adapter or checkpoint all-or-nothing
// (temp file beside the target, fsync, rename, fsync of the directory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace slm {

std::string read_text_file(const std::string& path);
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
uint64_t file_size(const std::string& path);

class AtomicFileWriter {
public:
    explicit AtomicFileWriter(std::string path);
    ~AtomicFileWriter();  // an uncommitted temp file is removed
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    void write(const void* data, size_t n);
    void write(std::string_view s) { write(s.data(), s.size()); }
    void pad_to(uint64_t alignment, uint8_t byte = 0);  // zero padding up to a multiple
    uint64_t offset() const { return offset_; }
    // Flushes, fsyncs and renames into place. Without it the target is left untouched.
    void commit();

private:
    void flush();
    std::string path_, temp_path_;
    int fd_ = -1;
    uint64_t offset_ = 0;
    std::string pending_;
    bool committed_ = false;
};

// Writes `contents` to `path` atomically.
void write_file_atomic(const std::string& path, std::string_view contents);

}  // namespace slm
