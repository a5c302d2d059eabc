// The tokenizer.ggml.* keys of a GGUF file, built from a Hugging Face tokenizer.json and
// tokenizer_config.json, so that llama.cpp (and slm) tokenize the converted file as Hugging Face does.
#pragma once

#include <slm/gguf.h>
#include <slm/model_config.h>

#include <cstdint>
#include <string>
#include <vector>

namespace slm::convert {

// Adds the tokenizer keys (model, pre, tokens, scores, token_type, merges, special ids, add_bos/
// add_eos, add_space_prefix) for the tokenizer in `files` to `writer`. `vocab_size` pads the
// token list with unused tokens up to the model's embedding rows, as llama.cpp's converter does.
void add_tokenizer_keys(const ModelFiles& files, int vocab_size, GgufWriter& writer);

// The keys of a vocabulary scored piece by piece, as llama.cpp's "llama" (SentencePiece BPE) and
// "t5" (Unigram) tokenizers read it: model, pre ("default"), tokens, scores, token_type and
// add_space_prefix.
void add_scored_vocabulary(GgufWriter& writer, const char* model, const std::vector<std::string>& tokens,
                           const std::vector<float>& scores, const std::vector<int32_t>& types, bool add_space_prefix);

}  // namespace slm::convert
