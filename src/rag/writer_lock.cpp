// WriterLock: flock on a side file rather than on the database, whose POSIX locks belong to SQLite.
#include "rag/writer_lock.h"

#include <fcntl.h>
#include <slm/error.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace slm::rag {

WriterLock::WriterLock(const std::string& kb_path) {
    const std::string path = kb_path + ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("{}: cannot open the lock file: {}", path, std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd_);
        fd_ = -1;
        if (err == EWOULDBLOCK)
            fail("{}: KB locked by another writer (an index or rm run); retry when it ends", kb_path);
        fail("{}: cannot lock: {}", path, std::strerror(err));
    }
}

WriterLock::~WriterLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace slm::rag
