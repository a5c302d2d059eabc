// The word-split regexes llama.cpp applies for each tokenizer.ggml.pre value of a byte-level
// BPE vocabulary (facts from llama.cpp's src/llama-vocab.cpp), plus its per-type flags.
#pragma once

#include <string>
#include <vector>

namespace slm::tok {

struct GgufPreTokenizerRules {
    std::vector<std::string> regexes;  // applied in order, each splitting the previous pieces
    bool ignore_merges = false;        // whole-word lookup before merging (Llama 3, Tekken)
    bool add_bos = false;              // default of tokenizer.ggml.add_bos_token
};

// nullptr when llama.cpp does not know the name; an empty name means "default".
const GgufPreTokenizerRules* gguf_pre_tokenizer_rules(const std::string& pre);

}  // namespace slm::tok
