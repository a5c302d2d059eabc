// Whole-file reads with errors that name the file, and the atomic writer (temp + fsync + rename).
#include <slm/error.h>
#include <slm/file_io.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace slm {

std::string read_text_file(const std::string& path) {
    if (is_directory(path)) fail("{}: is a directory, expected a file", path);
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) fail("{}: read error", path);
    return ss.str();
}

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

uint64_t file_size(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) fail("{}: cannot stat: {}", path, std::strerror(errno));
    return uint64_t(st.st_size);
}

namespace {
constexpr size_t kFlushBytes = 1 << 20;

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}
}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
    std::random_device rd;
    temp_path_ = path_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("{}: cannot create: {}", temp_path_, std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_path_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t n) {
    pending_.append(static_cast<const char*>(data), n);
    offset_ += n;
    if (pending_.size() >= kFlushBytes) flush();
}

void AtomicFileWriter::pad_to(uint64_t alignment, uint8_t byte) {
    if (alignment == 0) return;
    const uint64_t pad = (alignment - offset_ % alignment) % alignment;
    pending_.append(size_t(pad), char(byte));
    offset_ += pad;
}

void AtomicFileWriter::flush() {
    size_t done = 0;
    while (done < pending_.size()) {
        const ssize_t w = ::write(fd_, pending_.data() + done, pending_.size() - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            fail("{}: write failed: {}", temp_path_, std::strerror(errno));
        }
        done += size_t(w);
    }
    pending_.clear();
}

void AtomicFileWriter::commit() {
    flush();
    if (::fsync(fd_) != 0) fail("{}: fsync failed: {}", temp_path_, std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0)
        fail("{}: cannot rename into place: {}", path_, std::strerror(errno));
    committed_ = true;
    const int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);  // makes the rename itself durable
        ::close(dir);
    }
}

void write_file_atomic(const std::string& path, std::string_view contents) {
    AtomicFileWriter w(path);
    w.write(contents);
    w.commit();
}

}  // namespace slm
