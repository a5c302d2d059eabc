// What a sentence-transformers model directory declares beside the transformer's own files:
// modules.json's pipeline (Pooling's mode from 1_Pooling/config.json, a Normalize module) and the
// length limit. Read by the Embedder (runtime/) and by slm convert (bert.pooling_type).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace slm::formats {

struct SentenceTransformersConfig {
    bool present = false;                // the directory has a modules.json
    std::optional<std::string> pooling;  // "cls", "mean" or "last"; unset without a Pooling module
    bool normalize = false;              // a Normalize module follows the pooling
    // sentence_bert_config.json's max_seq_length (sentence-transformers up to 5), else the
    // tokenizer's model_max_length (where sentence-transformers 6 keeps it); 0 when neither says.
    int64_t max_seq_length = 0;
};

// Reads `dir`'s files; a directory without them gives a config with present == false. slm::Error
// naming the file for a malformed one, or a module slm does not run (Dense, max pooling, ...).
SentenceTransformersConfig read_sentence_transformers_config(const std::string& dir);

}  // namespace slm::formats
