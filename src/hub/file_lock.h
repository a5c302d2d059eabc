// An exclusive flock(2) on a lock file, held for the object's lifetime. flock locks belong to
// the open file, so two threads of one process exclude each other as two processes do; it is
// also what Python's filelock takes on the .locks/ files huggingface_hub uses.
#pragma once

#include <string>

namespace slm::hub {

class FileLock {
public:
    // Creates the file (and its directory) if needed. Blocks until the lock is ours; when another
    // holder makes us wait, `on_wait` (if set) is printed to stderr once.
    explicit FileLock(const std::string& path, const std::string& on_wait = "");
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace slm::hub
