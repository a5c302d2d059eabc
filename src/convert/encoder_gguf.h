// slm convert for BERT-family encoders: a sentence-transformers (or plain BertModel) directory ->
// GGUF as llama.cpp's converter writes `bert` (names, keys, the WordPiece vocabulary in its
// phantom-space spelling, bert.pooling_type from the Pooling module).
#pragma once

#include <slm/convert.h>
#include <slm/model_config.h>
#include <slm/thread_pool.h>

#include <string>

namespace slm::convert {

// `files` is an HF encoder directory (is_encoder_architecture); slm::Error naming what GGUF or
// llama.cpp cannot express (a Unigram or BPE vocabulary, a cased WordPiece, a module beyond pooling).
void convert_encoder_to_gguf(const ModelFiles& files, const std::string& out_path, const ConvertOptions& options,
                             ThreadPool* pool);

}  // namespace slm::convert
