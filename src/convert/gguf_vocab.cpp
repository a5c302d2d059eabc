// tokenizer.json -> tokenizer.ggml.* keys. SentencePiece-style vocabularies (a BPE model with
// byte fallback over Metaspace pieces) become tokenizer.ggml.model "llama"; byte-level BPE becomes
// "gpt2" with merges and the pre-tokenizer name whose split regexes equal the file's.
#include "convert/gguf_vocab.h"

#include "tokenizer/gguf_pre_tokenizers.h"

#include <slm/error.h>
#include <slm/file_io.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <unordered_map>

namespace slm::convert {
namespace {

using json = nlohmann::json;

// GGUF token types (llama.cpp's llama_token_type).
enum TokenType : int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

bool is_byte_piece(const std::string& s) {
    return s.size() == 6 && s.rfind("<0x", 0) == 0 && s[5] == '>' && std::isxdigit(uint8_t(s[3])) &&
           std::isxdigit(uint8_t(s[4]));
}

// A merge is "a b" in older tokenizer.json files and ["a", "b"] in newer ones.
std::pair<std::string, std::string> merge_pair(const json& m, const std::string& source) {
    if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const auto space = s.find(' ', 1);
        if (space == std::string::npos) fail("{}: model.merges entry '{}' is not two space-separated pieces", source, s);
        return {s.substr(0, space), s.substr(space + 1)};
    }
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        return {m[0].get<std::string>(), m[1].get<std::string>()};
    fail("{}: model.merges entry is neither \"a b\" nor [\"a\", \"b\"]", source);
}

// llama.cpp spells case-insensitive groups "(?i:'s|'t)" as "(?:'[sS]|'[tT])"; regexes are
// compared in that spelling.
std::string expand_case_insensitive_groups(const std::string& re) {
    std::string out;
    for (size_t i = 0; i < re.size(); ++i) {
        if (re.compare(i, 4, "(?i:") != 0) {
            out += re[i];
            continue;
        }
        out += "(?:";
        for (i += 4; i < re.size() && re[i] != ')'; ++i) {
            const char c = re[i];
            if (std::isalpha(uint8_t(c))) out += fmt::format("[{}{}]", char(std::tolower(c)), char(std::toupper(c)));
            else out += c;
        }
        out += ')';
    }
    return out;
}

// Collects every Split regex of the pre-tokenizer, in order; `byte_level_regex` is set when a
// ByteLevel pre-tokenizer applies GPT-2's own regex.
void collect_split_regexes(const json& pre, std::vector<std::string>& regexes, bool& byte_level_regex) {
    if (!pre.is_object()) return;
    const std::string type = pre.value("type", "");
    if (type == "Sequence") {
        for (const json& p : pre.value("pretokenizers", json::array())) collect_split_regexes(p, regexes, byte_level_regex);
    } else if (type == "Split" && pre.contains("pattern") && pre["pattern"].contains("Regex")) {
        regexes.push_back(expand_case_insensitive_groups(pre["pattern"]["Regex"].get<std::string>()));
    } else if (type == "ByteLevel" && pre.value("use_regex", true)) {
        byte_level_regex = true;
    }
}

// The llama.cpp pre-tokenizer name whose regexes are exactly the file's.
std::string detect_pre_tokenizer(const json& tokenizer, const std::string& source) {
    std::vector<std::string> regexes;
    bool byte_level_regex = false;
    collect_split_regexes(tokenizer.value("pre_tokenizer", json()), regexes, byte_level_regex);
    if (regexes.empty() && byte_level_regex) return "gpt-2";
    static const char* const kCandidates[] = {"qwen2", "llama-bpe", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon",
                                              "starcoder", "refact", "mpt", "command-r", "smollm", "gpt-4o", "tekken"};
    for (const char* name : kCandidates) {
        const tok::GgufPreTokenizerRules* rules = tok::gguf_pre_tokenizer_rules(name);
        if (!rules) continue;
        std::vector<std::string> expected = rules->regexes;
        if (byte_level_regex && regexes.size() + 1 == expected.size()) {
            // a Split followed by ByteLevel(use_regex) also applies GPT-2's regex last
            if (tok::gguf_pre_tokenizer_rules("gpt-2")->regexes.front() != expected.back()) continue;
            expected.pop_back();
        }
        if (expected == regexes) return name;
    }
    fail("{}: the pre-tokenizer's split regexes match no pre-tokenizer llama.cpp knows; GGUF cannot express it", source);
}

}  // namespace

void add_scored_vocabulary(GgufWriter& writer, const char* model, const std::vector<std::string>& tokens,
                           const std::vector<float>& scores, const std::vector<int32_t>& types, bool add_space_prefix) {
    writer.set("tokenizer.ggml.model", GgufWriter::str(model));
    writer.set("tokenizer.ggml.pre", GgufWriter::str("default"));
    writer.set("tokenizer.ggml.tokens", GgufWriter::string_array(tokens));
    writer.set("tokenizer.ggml.scores", GgufWriter::f32_array(scores));
    writer.set("tokenizer.ggml.token_type", GgufWriter::i32_array(types));
    writer.set("tokenizer.ggml.add_space_prefix", GgufWriter::boolean(add_space_prefix));
}

void add_tokenizer_keys(const ModelFiles& files, int vocab_size, GgufWriter& writer) {
    if (files.tokenizer_json.empty())
        fail("{}: no tokenizer.json; slm convert needs it to write the GGUF vocabulary", files.path);
    const std::string& source = files.tokenizer_json;
    json tj;
    try {
        tj = json::parse(read_text_file(source));
    } catch (const json::exception& e) {
        fail("{}: invalid JSON: {}", source, e.what());
    }
    const json& model = tj.value("model", json());
    const std::string type = model.value("type", "");
    if (type != "BPE") fail("{}: model.type '{}' is not supported by slm convert (BPE only for now)", source, type);
    const json& vocab = model.value("vocab", json());
    if (!vocab.is_object()) fail("{}: model.vocab is missing or not an object", source);

    // Tokens by id: the model's vocabulary, then added tokens (which may extend it).
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    auto put = [&](int64_t id, const std::string& piece, int32_t t) {
        if (id < 0 || id >= std::max<int64_t>(vocab_size, 1 << 24)) fail("{}: token id {} out of range", source, id);
        if (size_t(id) >= tokens.size()) {
            tokens.resize(size_t(id) + 1);
            types.resize(size_t(id) + 1, unused);
        }
        tokens[size_t(id)] = piece;
        types[size_t(id)] = t;
    };
    const bool byte_fallback = model.value("byte_fallback", false);
    for (const auto& [piece, id] : vocab.items()) {
        if (!id.is_number_integer()) fail("{}: model.vocab['{}'] is not an integer id", source, piece);
        put(id.get<int64_t>(), piece, byte_fallback && is_byte_piece(piece) ? byte : normal);
    }
    const std::string unk = model.value("unk_token", json()).is_string() ? model["unk_token"].get<std::string>() : "";
    for (const json& added : tj.value("added_tokens", json::array())) {
        const std::string content = added.value("content", "");
        const bool special = added.value("special", false);
        put(added.value("id", int64_t(-1)), content, content == unk ? (special ? control : unknown)
                                                                     : (special ? control : user_defined));
    }
    for (int64_t id = int64_t(tokens.size()); id < vocab_size; ++id) put(id, "[PAD" + std::to_string(id) + "]", unused);
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i].empty() && types[i] == unused) tokens[i] = "[PAD" + std::to_string(i) + "]";

    std::vector<std::pair<std::string, std::string>> merges;
    for (const json& m : model.value("merges", json::array())) merges.push_back(merge_pair(m, source));

    const TokenizerConfig& tc = files.tokenizer_config;
    auto id_of = [&](const std::optional<std::string>& piece) -> std::optional<int32_t> {
        if (!piece) return std::nullopt;
        for (size_t i = 0; i < tokens.size(); ++i)
            if (tokens[i] == *piece) return int32_t(i);
        return std::nullopt;
    };

    if (byte_fallback) {
        // SentencePiece BPE. llama.cpp merges the adjacent pair whose joined piece has the highest
        // score, so a piece scores minus the rank of the first merge that makes it: the same order
        // in which Hugging Face applies the merges.
        std::unordered_map<std::string, size_t> first_rank;
        for (size_t r = 0; r < merges.size(); ++r) first_rank.try_emplace(merges[r].first + merges[r].second, r);
        std::vector<float> scores(tokens.size(), 0.0f);
        for (size_t i = 0; i < tokens.size(); ++i) {
            const auto it = first_rank.find(tokens[i]);
            scores[i] = it != first_rank.end() ? -float(it->second) : (types[i] == normal ? -1e9f : 0.0f);
        }
        // Hugging Face prepends "▁" when the pre-tokenizer or normalizer says so.
        const json pre = tj.value("pre_tokenizer", json());
        const json norm = tj.value("normalizer", json());
        const bool prepend = (pre.is_object() && pre.value("type", "") == "Metaspace" &&
                              pre.value("prepend_scheme", "always") != "never") ||
                             norm.dump().find("\"Prepend\"") != std::string::npos;
        add_scored_vocabulary(writer, "llama", tokens, scores, types, prepend);
    } else {
        writer.set("tokenizer.ggml.model", GgufWriter::str("gpt2"));
        writer.set("tokenizer.ggml.pre", GgufWriter::str(detect_pre_tokenizer(tj, source)));
        writer.set("tokenizer.ggml.tokens", GgufWriter::string_array(tokens));
        writer.set("tokenizer.ggml.token_type", GgufWriter::i32_array(types));
        std::vector<std::string> joined;
        joined.reserve(merges.size());
        for (const auto& [a, b] : merges) joined.push_back(a + " " + b);
        writer.set("tokenizer.ggml.merges", GgufWriter::string_array(joined));
    }

    // Special ids: tokenizer_config.json's strings, else the model config's ids.
    const auto bos = id_of(tc.bos_token);
    const auto eos = id_of(tc.eos_token);
    if (bos) writer.set("tokenizer.ggml.bos_token_id", GgufWriter::u32(uint32_t(*bos)));
    else if (files.config.bos_token_id >= 0) writer.set("tokenizer.ggml.bos_token_id", GgufWriter::u32(uint32_t(files.config.bos_token_id)));
    if (eos) writer.set("tokenizer.ggml.eos_token_id", GgufWriter::u32(uint32_t(*eos)));
    else if (!files.config.eos_token_ids.empty()) writer.set("tokenizer.ggml.eos_token_id", GgufWriter::u32(uint32_t(files.config.eos_token_ids[0])));
    if (const auto u = id_of(tc.unk_token)) writer.set("tokenizer.ggml.unknown_token_id", GgufWriter::u32(uint32_t(*u)));
    if (const auto p = id_of(tc.pad_token)) writer.set("tokenizer.ggml.padding_token_id", GgufWriter::u32(uint32_t(*p)));

    // add_bos: the tokenizer_config flag, else whether the post-processor puts BOS first.
    bool add_bos = tc.add_bos_token.value_or(false);
    if (!tc.add_bos_token && bos) {
        const json post = tj.value("post_processor", json());
        add_bos = post.is_object() && post.dump().find("\"" + tokens[size_t(*bos)] + "\"") != std::string::npos;
    }
    writer.set("tokenizer.ggml.add_bos_token", GgufWriter::boolean(add_bos));
    writer.set("tokenizer.ggml.add_eos_token", GgufWriter::boolean(tc.add_eos_token.value_or(false)));
    if (!files.chat_template.empty()) writer.set("tokenizer.chat_template", GgufWriter::str(files.chat_template));
}

}  // namespace slm::convert
