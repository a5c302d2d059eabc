// A blob being downloaded: a file opened for writing at any offset, readable back for the
// digest, synced before its name changes. Used by the single-stream and the ranged download.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hub/digest.h"

namespace slm::hub {

class IncompleteFile {
public:
    explicit IncompleteFile(std::string path);
    ~IncompleteFile();
    IncompleteFile(const IncompleteFile&) = delete;
    IncompleteFile& operator=(const IncompleteFile&) = delete;

    const std::string& path() const { return path_; }
    uint64_t size() const;
    void truncate(uint64_t n);
    // Feeds bytes [from, to) already on disk to the digest.
    void hash_range(Digest& d, uint64_t from, uint64_t to) const;
    // Writes at `offset`; false (errno kept in write_errno) on a write error. Safe from several
    // threads at once for disjoint ranges.
    bool write_at(uint64_t offset, std::string_view data);
    // Starts writing [from, to) to disk without waiting, so that the fsync before the rename
    // finds little left to write (it was half of curl's time for a 1 GiB download on loopback).
    void start_writeback(uint64_t from, uint64_t to);
    void sync_and_close();
    int write_errno = 0;

private:
    std::string path_;
    int fd_ = -1;
};

}  // namespace slm::hub
