// IncompleteFile on POSIX pread/pwrite: positioned writes need no shared file offset, so the
// ranges of one blob can be written by several threads at once.
#include "hub/incomplete_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "hub/fs_errors.h"

namespace slm::hub {

IncompleteFile::IncompleteFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_io(path_, "cannot create the download file");
}

IncompleteFile::~IncompleteFile() {
    if (fd_ >= 0) ::close(fd_);
}

uint64_t IncompleteFile::size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail_io(path_, "cannot stat");
    return uint64_t(st.st_size);
}

void IncompleteFile::truncate(uint64_t n) {
    if (::ftruncate(fd_, off_t(n)) != 0) fail_io(path_, "cannot truncate");
}

void IncompleteFile::hash_range(Digest& d, uint64_t from, uint64_t to) const {
    std::vector<char> buf(1 << 20);
    for (uint64_t off = from; off < to;) {
        const ssize_t got = ::pread(fd_, buf.data(), std::min<uint64_t>(buf.size(), to - off), off_t(off));
        if (got <= 0) fail_io(path_, "cannot read back the partial download");
        d.update(buf.data(), size_t(got));
        off += uint64_t(got);
    }
}

bool IncompleteFile::write_at(uint64_t offset, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::pwrite(fd_, data.data(), data.size(), off_t(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            write_errno = errno;
            return false;
        }
        data.remove_prefix(size_t(n));
        offset += uint64_t(n);
    }
    return true;
}

void IncompleteFile::start_writeback(uint64_t from, uint64_t to) {
    if (to > from) ::sync_file_range(fd_, off_t(from), off_t(to - from), SYNC_FILE_RANGE_WRITE);  // a hint only
}

void IncompleteFile::sync_and_close() {
    if (::fsync(fd_) != 0) fail_io(path_, "cannot write the download to disk");
    ::close(fd_);
    fd_ = -1;
}

}  // namespace slm::hub
