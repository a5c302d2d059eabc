// The models of the Hugging Face cache as /v1/models and /api/tags list them beside the loaded
// one: one entry per cached repository, named org/name as `slm run` and /api/pull take it.
#pragma once

#include <slm/hub.h>

#include <cstdint>
#include <string>
#include <vector>

namespace slm::server {

struct CachedModel {
    std::string id;            // "org/name"
    std::string owner;         // "org"
    int64_t modified = 0;      // unix seconds: when its files were last read or written
    std::string modified_at;   // the same in RFC 3339
    uint64_t size = 0;         // bytes on disk, shared blobs once
    std::string digest;        // the commit of the revision listed (the one main names)
    std::string format;        // "safetensors", "gguf" or "safetensors+gguf"
    std::string family;        // config.json's model_type ("qwen2"), "" when unknown
    std::string quantization;  // "BF16", "Q8_0", … as ollama's quantization_level, "" when unknown
    int64_t parameter_count = 0;  // from the weights' headers (no tensor data is read); 0 when unreadable
};

// ollama's parameter_size: "7.6B", "494M"; "" for 0.
std::string parameter_size_text(int64_t parameter_count);

// Every repository cached under hub.cache_dir that holds a model (safetensors or GGUF weights),
// except `skip_id` (the model being served, already listed).
std::vector<CachedModel> cached_models(const HubOptions& hub, const std::string& skip_id);

}  // namespace slm::server
