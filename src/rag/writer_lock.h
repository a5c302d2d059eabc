// WriterLock: one writer per knowledge base at a time, through flock(2) on "KB.lock" beside the
// database. The kernel drops the lock when the process dies, so a killed run never leaves it stale.
#pragma once

#include <string>

namespace slm::rag {

class WriterLock {
public:
    // Throws slm::Error "KB locked by another writer" when another process holds it.
    explicit WriterLock(const std::string& kb_path);
    ~WriterLock();
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace slm::rag
