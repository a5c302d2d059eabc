// Which files of a repository a pull takes: the ones a model needs (config, tokenizer,
// generation config, chat template, safetensors weights and their index), or, with a
// quantization tag or in a repository of GGUF files only, the .gguf of that quantization (as
// `llama-cli -hf` and ollama's hf.co/ names pick it); --include adds files, --exclude removes
// needed ones.
#pragma once

#include <string>
#include <vector>

namespace slm::hub {

struct FileSelection {
    std::vector<std::string> files;  // sorted repository paths
    std::vector<std::string> gguf;   // the chosen .gguf (all its shards), empty when none
    std::string note;                // which quantization was chosen and what else there was
};

// fnmatch without FNM_PATHNAME: '*' also crosses '/', as huggingface_hub's fnmatch patterns;
// a pattern ending in '/' matches everything below that folder.
bool glob_match(const std::string& pattern, const std::string& path);

// The .gguf files for `quant` ("" = the default: Q4_K_M, else Q8_0, else the first), matched
// case-insensitively on the file name; every shard of a split model. Throws when nothing
// matches, listing the quantizations there are. Empty when `paths` holds no .gguf.
std::vector<std::string> choose_gguf(const std::vector<std::string>& paths, const std::string& quant,
                                     const std::string& repo, std::string* note);

FileSelection select_files(const std::vector<std::string>& paths, const std::string& quant,
                           const std::vector<std::string>& include, const std::vector<std::string>& exclude,
                           const std::string& repo);

}  // namespace slm::hub
