// FileLock: open (creating) the lock file, try the lock, say why we wait, then wait for it.
#include "hub/file_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <slm/error.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hub/fs_errors.h"

namespace slm::hub {

FileLock::FileLock(const std::string& path, const std::string& on_wait) {
    make_dirs(path.substr(0, path.rfind('/')));
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_io(path, "cannot create the lock file");
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    if (errno != EWOULDBLOCK) {
        const int err = errno;
        ::close(fd_);
        fail("{}: cannot lock: {}", path, std::strerror(err));
    }
    if (!on_wait.empty()) fmt::print(stderr, "{}\n", on_wait);
    while (::flock(fd_, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd_);
        fail("{}: cannot lock: {}", path, std::strerror(err));
    }
}

FileLock::~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

}  // namespace slm::hub
