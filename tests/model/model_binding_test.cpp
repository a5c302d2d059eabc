// Weight binding errors: a missing or mis-shaped tensor, or an unsupported architecture, is an
// slm::Error naming it, at load.
#include "model/architecture.h"
#include "model/fixture_models.h"
#include "testing/testing.h"

#include <slm/error.h>

#include <gmock/gmock.h>

namespace slm::test {
namespace {

using ::testing::HasSubstr;

// A TensorSource that hides one tensor or reports a wrong shape for it.
class EditedSource : public TensorSource {
public:
    EditedSource(std::unique_ptr<TensorSource> base, std::string name, std::optional<std::vector<int64_t>> shape)
        : base_(std::move(base)), name_(std::move(name)), shape_(std::move(shape)) {}
    std::vector<std::string> tensor_names() const override { return base_->tensor_names(); }
    std::optional<Tensor> find_tensor(const std::string& name) const override {
        std::optional<Tensor> t = base_->find_tensor(name);
        if (name != name_ || !t) return t;
        if (!shape_) return std::nullopt;
        t->shape = *shape_;
        return t;
    }
    std::string describe() const override { return base_->describe(); }

private:
    std::unique_ptr<TensorSource> base_;
    std::string name_;
    std::optional<std::vector<int64_t>> shape_;
};

ModelFiles edited(const std::string& fixture, const std::string& tensor, std::optional<std::vector<int64_t>> shape) {
    ModelFiles files = ModelFiles::open(fixture_model_dir(fixture));
    files.tensors = std::make_unique<EditedSource>(std::move(files.tensors), tensor, std::move(shape));
    return files;
}

std::string load_error(ModelFiles files) {
    try {
        Model model(std::move(files));
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(ModelBinding, MissingTensorIsNamed) {
    const std::string msg = load_error(edited("llama", "model.layers.1.mlp.up_proj.weight", std::nullopt));
    EXPECT_THAT(msg, HasSubstr("'model.layers.1.mlp.up_proj.weight' is missing"));
}

TEST(ModelBinding, MisShapedTensorIsNamedWithBothShapes) {
    const std::string msg = load_error(edited("llama", "model.layers.0.self_attn.k_proj.weight", std::vector<int64_t>{32, 64}));
    EXPECT_THAT(msg, HasSubstr("'model.layers.0.self_attn.k_proj.weight' has shape [32, 64], expected [64, 64]"));
}

TEST(ModelBinding, Qwen2WithoutBiasIsAnError) {
    const std::string msg = load_error(edited("qwen2_bias", "model.layers.0.self_attn.q_proj.bias", std::nullopt));
    EXPECT_THAT(msg, HasSubstr("'model.layers.0.self_attn.q_proj.bias' is missing"));
}

TEST(ModelBinding, UnsupportedArchitectureListsTheSupportedOnes) {
    ModelFiles files = ModelFiles::open(fixture_model_dir("llama"));
    files.config.architecture = "gpt2";
    EXPECT_THAT(load_error(std::move(files)), HasSubstr("architecture 'gpt2' is not supported (supported: llama, mistral, qwen2, gemma, gemma2, gemma3, phi3, phi2)"));
}

TEST(ModelBinding, TiedEmbeddingsShareTheTable) {
    std::unique_ptr<Model> model = Model::load(fixture_model_dir("llama_gqa_tied"));
    EXPECT_TRUE(model->config().tie_word_embeddings);
    EXPECT_EQ(model->rope_mode(), kernels::RopeMode::neox);
}

TEST(ModelBinding, NameTablesCoverBothNamings) {
    using model::WeightRole;
    EXPECT_EQ(model::tensor_name(WeightRole::attn_q, TensorNaming::hf, 3), "model.layers.3.self_attn.q_proj.weight");
    EXPECT_EQ(model::tensor_name(WeightRole::attn_q, TensorNaming::gguf, 3), "blk.3.attn_q.weight");
    EXPECT_EQ(model::tensor_name(WeightRole::output, TensorNaming::gguf), "output.weight");
    EXPECT_EQ(model::tensor_name(WeightRole::rope_freqs, TensorNaming::hf), "");
}

}  // namespace
}  // namespace slm::test
