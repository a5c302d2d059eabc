// Tensor size arithmetic, and Buffer: aligned heap blocks (huge pages for big ones) and read-only file mappings.
#include <slm/error.h>
#include <slm/tensor.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace slm {
namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

int64_t Tensor::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

size_t Tensor::row_bytes() const { return slm::row_bytes(dtype, row_length()); }
size_t Tensor::nbytes() const { return size_t(rows()) * row_bytes(); }

std::string shape_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

Buffer Buffer::allocate(size_t bytes, size_t alignment) {
    Buffer b;
    if (bytes == 0) return b;
    const size_t rounded = (bytes + alignment - 1) / alignment * alignment;
    // Blocks of a huge page or more (weights) start on a huge-page boundary and ask for huge
    // pages: decode streams hundreds of MiB per token, and with 4 KiB pages it misses the TLB
    // every 4 KiB. Only the start is aligned, so no block grows by more than `alignment`.
    const bool huge = rounded >= kHugePage;
    void* p = std::aligned_alloc(huge ? std::max(alignment, kHugePage) : alignment, rounded);
    if (!p) fail("out of memory allocating {} bytes", bytes);
    if (huge) (void)::madvise(p, rounded / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice only
    std::memset(p, 0, rounded);
    b.data_ = static_cast<uint8_t*>(p);
    b.size_ = bytes;
    b.kind_ = Kind::heap;
    return b;
}

Buffer Buffer::map_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        fail("{}: cannot stat: {}", path, std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        fail("{}: is a directory, expected a file", path);
    }
    Buffer b;
    if (st.st_size > 0) {
        void* p = ::mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            fail("{}: cannot map into memory: {}", path, std::strerror(err));
        }
        b.data_ = static_cast<uint8_t*>(p);
        b.size_ = size_t(st.st_size);
        b.kind_ = Kind::mapped;
    }
    ::close(fd);
    return b;
}

bool Buffer::lock() const { return size_ == 0 || ::mlock(data_, size_) == 0; }

void Buffer::release_pages(const void* p, size_t n) const {
    const auto begin = reinterpret_cast<uintptr_t>(p), end = begin + n;
    if (kind_ != Kind::mapped || begin < reinterpret_cast<uintptr_t>(data_) || end > reinterpret_cast<uintptr_t>(data_) + size_) return;
    const auto page = uintptr_t(::sysconf(_SC_PAGESIZE));
    const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    // Advice only: where the kernel declines, the pages simply stay.
    if (first < last) (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

Buffer::Buffer(Buffer&& o) noexcept : data_(o.data_), size_(o.size_), kind_(o.kind_) {
    o.data_ = nullptr;
    o.size_ = 0;
    o.kind_ = Kind::none;
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        release();
        data_ = o.data_;
        size_ = o.size_;
        kind_ = o.kind_;
        o.data_ = nullptr;
        o.size_ = 0;
        o.kind_ = Kind::none;
    }
    return *this;
}

Buffer::~Buffer() { release(); }

void Buffer::release() {
    if (kind_ == Kind::heap) std::free(data_);
    if (kind_ == Kind::mapped) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
    kind_ = Kind::none;
}

OwnedTensor OwnedTensor::zeros(DType dtype, std::vector<int64_t> shape) {
    OwnedTensor t;
    t.tensor.dtype = dtype;
    t.tensor.shape = std::move(shape);
    t.buffer = Buffer::allocate(t.tensor.nbytes());
    t.tensor.data = t.buffer.data();
    return t;
}

}  // namespace slm
