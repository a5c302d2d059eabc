// TensorSource: what every weight file yields: tensor name -> typed view of its bytes (zero-copy
// where the file allows). GgufFile and SafetensorsFile (single or sharded) implement it.
#pragma once

#include <slm/tensor.h>

#include <optional>
#include <string>
#include <vector>

namespace slm {

class TensorSource {
public:
    virtual ~TensorSource() = default;
    // Every tensor name, in file order.
    virtual std::vector<std::string> tensor_names() const = 0;
    // The tensor's view, or nullopt when absent. The view stays valid while the source lives.
    virtual std::optional<Tensor> find_tensor(const std::string& name) const = 0;
    // Says that `view`'s memory (a view this source gave) will not be read for a while: a mapped
    // file may let its pages go (a model that copied the tensor into another layout).
    virtual void release_pages(const Tensor& view) const { (void)view; }
    // Where the tensors come from, for error messages ("model.gguf", "model-00001-of-00002…").
    virtual std::string describe() const = 0;
};

}  // namespace slm
