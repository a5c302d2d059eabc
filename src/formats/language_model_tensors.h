// The language model inside a multimodal checkpoint (Gemma 3's Gemma3ForConditionalGeneration):
// its tensors under the text model's own names, the vision tower and projector left out.
#pragma once

#include <slm/tensor_source.h>

#include <memory>

namespace slm::formats {

// `source` itself when it holds a text model's tensors (model.embed_tokens.weight); else, when its
// names carry a language-model prefix (language_model.model.* as the Hub's checkpoints store them,
// model.language_model.* as transformers 5 saves them), a view that gives those tensors as
// model.* and lm_head.*, and lists only them.
std::unique_ptr<TensorSource> language_model_tensors(std::unique_ptr<TensorSource> source);

}  // namespace slm::formats
