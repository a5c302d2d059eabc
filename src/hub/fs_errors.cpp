// Plain messages for the errors a download meets on disk, and mkdir -p with them.
#include "hub/fs_errors.h"

#include <slm/error.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace slm::hub {

void fail_errno(int err, const std::string& path, const std::string& what) {
    switch (err) {
        case ENOSPC:
        case EDQUOT:
            fail("{}: {}: the disk is full (free some space, or point HF_HUB_CACHE at a larger disk)", path, what);
        case EACCES:
        case EPERM:
            fail("{}: {}: permission denied (make the cache writable, or point HF_HUB_CACHE at a directory you own)",
                 path, what);
        case EROFS:
            fail("{}: {}: the file system is read-only (point HF_HUB_CACHE at a writable directory)", path, what);
        default:
            fail("{}: {}: {}", path, what, std::strerror(err));
    }
}

void fail_io(const std::string& path, const std::string& what) { fail_errno(errno, path, what); }

void make_dirs(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) fail_errno(ec.value(), dir, "cannot create the directory");
}

}  // namespace slm::hub
