// Renaming view of a multimodal checkpoint's language model: a name of the text model's form is
// looked up under the prefix the checkpoint uses; names outside the language model are hidden.
#include "formats/language_model_tensors.h"

#include <array>
#include <string_view>

namespace slm::formats {
namespace {

// Where the text model's "model." and "lm_head." live, per checkpoint layout.
struct Prefixes {
    std::string_view body, head;
};

constexpr std::array kLayouts = {
    Prefixes{"language_model.model.", "language_model.lm_head."},  // Hub checkpoints (transformers 4)
    Prefixes{"model.language_model.", "lm_head."},                 // transformers 5's save_pretrained
};

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

class LanguageModelTensors : public TensorSource {
public:
    LanguageModelTensors(std::unique_ptr<TensorSource> source, Prefixes prefixes)
        : source_(std::move(source)), prefixes_(prefixes) {}

    std::vector<std::string> tensor_names() const override {
        std::vector<std::string> names;
        for (const std::string& name : source_->tensor_names()) {
            if (starts_with(name, prefixes_.body)) names.push_back("model." + name.substr(prefixes_.body.size()));
            else if (starts_with(name, prefixes_.head)) names.push_back("lm_head." + name.substr(prefixes_.head.size()));
        }
        return names;
    }

    std::optional<Tensor> find_tensor(const std::string& name) const override {
        if (starts_with(name, "model.")) return source_->find_tensor(std::string(prefixes_.body) + name.substr(6));
        if (starts_with(name, "lm_head.")) return source_->find_tensor(std::string(prefixes_.head) + name.substr(8));
        return std::nullopt;
    }

    void release_pages(const Tensor& view) const override { source_->release_pages(view); }
    std::string describe() const override { return source_->describe(); }

private:
    std::unique_ptr<TensorSource> source_;
    Prefixes prefixes_;
};

}  // namespace

std::unique_ptr<TensorSource> language_model_tensors(std::unique_ptr<TensorSource> source) {
    if (source->find_tensor("model.embed_tokens.weight")) return source;
    for (const Prefixes& p : kLayouts)
        if (source->find_tensor(std::string(p.body) + "embed_tokens.weight"))
            return std::make_unique<LanguageModelTensors>(std::move(source), p);
    return source;
}

}  // namespace slm::formats
