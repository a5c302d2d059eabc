// Tensor: a typed view (dtype, shape, data pointer) over memory it does not own.
// Buffer: memory that is owned: an aligned heap block or a read-only mapping of a whole file.
// Shapes are row-major, outermost dimension first, as in PyTorch and safetensors: a linear
// layer's weight is [out_features, in_features]; GGUF's innermost-first order is reversed on read.
#pragma once

#include <slm/dtype.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace slm {

enum class Device : uint8_t { cpu, cuda };

// How a matrix's rows lie in memory. `rows`: one after another, as in every file. `interleaved8`:
// a CPU matmul layout made at load (kernels::interleave_for_matmul, never written to files):
// each group of 8 rows stored block by block, the 8 rows' scales and then their codes in 4-byte
// slices, so that one sequential stream feeds 8 outputs (src/kernels/cpu/interleaved_rows.h).
// The tensor's nbytes are unchanged; row(n) is meaningless for it; matmul reads it, and get_rows
// (a tied embedding table) takes rows back out of their groups.
enum class Layout : uint8_t { rows, interleaved8 };

struct Tensor {
    DType dtype = DType::f32;
    std::vector<int64_t> shape;
    void* data = nullptr;
    Device device = Device::cpu;
    Layout layout = Layout::rows;

    int ndim() const { return int(shape.size()); }
    int64_t numel() const;
    int64_t dim(int i) const { return shape[i < 0 ? shape.size() + i : i]; }
    // Elements in one row (the innermost dimension) and the number of rows (all the others).
    int64_t row_length() const { return shape.empty() ? 1 : shape.back(); }
    int64_t rows() const { return row_length() == 0 ? 0 : numel() / row_length(); }
    size_t row_bytes() const;
    size_t nbytes() const;
    template <typename T> T* as() const { return static_cast<T*>(data); }
    // Row r of a `rows` layout.
    void* row(int64_t r) const { return static_cast<uint8_t*>(data) + r * row_bytes(); }
};

std::string shape_string(const std::vector<int64_t>& shape);  // "[256, 704]"

class Buffer {
public:
    Buffer() = default;
    // Zero-filled heap memory aligned to `alignment` bytes.
    static Buffer allocate(size_t bytes, size_t alignment = 64);
    // The whole file mapped read-only; an empty file maps to an empty buffer.
    static Buffer map_file(const std::string& path);

    uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    bool is_mapped() const { return kind_ == Kind::mapped; }
    // Pins mapped pages in memory (mlock); returns false where the system refuses.
    bool lock() const;
    // For a mapping: lets the whole pages of [p, p + n) leave memory (a later read brings them
    // back from the file). Does nothing for heap memory, whose contents it would lose.
    void release_pages(const void* p, size_t n) const;

    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer();

private:
    enum class Kind : uint8_t { none, heap, mapped };
    void release();
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
    Kind kind_ = Kind::none;
};

// A tensor together with the memory it views: for results that must own their data.
struct OwnedTensor {
    Tensor tensor;
    Buffer buffer;
    static OwnedTensor zeros(DType dtype, std::vector<int64_t> shape);
};

}  // namespace slm
