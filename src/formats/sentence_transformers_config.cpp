// sentence-transformers' module files: modules.json, the Pooling module's config.json (the old
// pooling_mode_* flags or the newer "pooling_mode" string), sentence_bert_config.json, and the
// tokenizer's model_max_length.
#include "formats/sentence_transformers_config.h"

#include <slm/error.h>
#include <slm/file_io.h>

#include "formats/json_fields.h"

#include <filesystem>

namespace slm::formats {
namespace {

namespace fs = std::filesystem;

nlohmann::json read_json(const fs::path& path) { return parse_json_object(read_text_file(path.string()), path.string()); }

std::string read_pooling(const fs::path& path) {
    const nlohmann::json root = read_json(path);
    const JsonFields f(root, path.string());
    if (const auto mode = f.string("pooling_mode")) {
        if (*mode == "cls" || *mode == "mean") return *mode;
        if (*mode == "lasttoken" || *mode == "last") return "last";
        fail("{}: pooling_mode '{}' is not supported (cls, mean and lasttoken are)", path.string(), *mode);
    }
    if (f.boolean("pooling_mode_cls_token").value_or(false)) return "cls";
    if (f.boolean("pooling_mode_mean_tokens").value_or(false)) return "mean";
    if (f.boolean("pooling_mode_lasttoken").value_or(false)) return "last";
    for (const char* other : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens"})
        if (f.boolean(other).value_or(false))
            fail("{}: '{}' is not supported (cls, mean and lasttoken pooling are)", path.string(), other);
    fail("{}: no pooling mode is set", path.string());
}

// Tokenizers without a limit write a huge sentinel (1e30), which is no limit.
int64_t read_max_seq_length(const fs::path& root) {
    const fs::path st_config = root / "sentence_bert_config.json";
    if (file_exists(st_config.string()))
        if (const auto n = JsonFields(read_json(st_config), st_config.string()).integer("max_seq_length"))
            return *n;
    const fs::path tok_config = root / "tokenizer_config.json";
    if (file_exists(tok_config.string()))
        if (const auto n = JsonFields(read_json(tok_config), tok_config.string()).number("model_max_length");
            n && *n >= 1 && *n < double(1 << 24))
            return int64_t(*n);
    return 0;
}

}  // namespace

SentenceTransformersConfig read_sentence_transformers_config(const std::string& dir) {
    SentenceTransformersConfig c;
    const fs::path root(dir);
    c.max_seq_length = read_max_seq_length(root);
    const fs::path modules_path = root / "modules.json";
    if (!file_exists(modules_path.string())) return c;
    c.present = true;
    const nlohmann::json modules = nlohmann::json::parse(read_text_file(modules_path.string()), nullptr, false);
    if (!modules.is_array()) fail("{}: expected a list of modules", modules_path.string());
    for (size_t i = 0; i < modules.size(); ++i) {
        const nlohmann::json& m = modules[i];
        if (!m.is_object() || !m.contains("type") || !m["type"].is_string())
            fail("{}: module {} has no 'type' string", modules_path.string(), i);
        // sentence_transformers.models.Pooling, or in version 6 ...modules.pooling.Pooling
        const std::string type = m["type"].get<std::string>();
        const std::string kind = type.substr(type.rfind('.') + 1);
        if (kind == "Transformer") continue;
        if (kind == "Pooling") c.pooling = read_pooling(root / m.value("path", std::string()) / "config.json");
        else if (kind == "Normalize") c.normalize = true;
        else
            fail("{}: module {} is '{}'; slm runs Transformer, Pooling and Normalize modules only", modules_path.string(),
                 i, type);
    }
    return c;
}

}  // namespace slm::formats
