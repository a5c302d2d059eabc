// BERT-family encoders to GGUF in llama.cpp's `bert` form: keys (attention.causal false,
// pooling_type, layer_norm_epsilon, token_type_count), tensors renamed by the encoder's name
// table (1-D tensors, the position and token-type tables f32; matrices in the chosen type), and the
// vocabulary: BERT's WordPiece spelled as llama.cpp's WPM tokenizer reads it (a word-initial piece
// gets "▁" in front, a "##" continuation loses its "##", a bracketed special stays as it is), or
// XLM-R's Unigram as its UGM ("t5") tokenizer reads it (pieces, scores, token types), with XLM-R's
// position table cut past its padding offset as llama.cpp's converter cuts it.
#include "convert/encoder_gguf.h"

#include "convert/gguf_header.h"
#include "convert/gguf_vocab.h"

#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>
#include <slm/progress.h>

#include "formats/sentence_transformers_config.h"
#include "model/encoder_weights.h"
#include "quant/convert_rows.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>

namespace slm::convert {
namespace {

using json = nlohmann::json;

// GGUF token types (llama.cpp's llama_token_type).
constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5;

std::string phantom_space_piece(const std::string& piece) {
    if (piece.size() >= 2 && piece.front() == '[' && piece.back() == ']') return piece;
    if (piece.rfind("##", 0) == 0) return piece.substr(2);
    return "\xe2\x96\x81" + piece;  // U+2581
}

// The special tokens a single text gets: [CLS]-like first, [SEP]-like last, as the post-processor
// (TemplateProcessing or BertProcessing) names them.
std::pair<std::string, std::string> cls_and_sep(const json& tokenizer, const std::string& source) {
    const json post = tokenizer.value("post_processor", json());
    if (post.is_object() && post.value("type", "") == "BertProcessing")
        return {post.at("cls").at(0).get<std::string>(), post.at("sep").at(0).get<std::string>()};
    if (post.is_object() && post.value("type", "") == "TemplateProcessing") {
        std::vector<std::string> specials;
        for (const json& item : post.value("single", json::array()))
            if (item.contains("SpecialToken")) specials.push_back(item["SpecialToken"].value("id", ""));
        if (specials.size() == 2) return {specials[0], specials[1]};
    }
    fail("{}: the post-processor is not '[CLS] $A [SEP]' (TemplateProcessing or BertProcessing); GGUF's bert vocabulary "
         "adds exactly those", source);
}

json read_tokenizer_json(const ModelFiles& files) {
    if (files.tokenizer_json.empty()) fail("{}: no tokenizer.json; slm convert needs it to write the vocabulary", files.path);
    json tj = json::parse(read_text_file(files.tokenizer_json), nullptr, false);
    if (!tj.is_object()) fail("{}: invalid JSON", files.tokenizer_json);
    return tj;
}

void add_wordpiece_keys(const ModelFiles& files, int vocab_size, GgufWriter& w) {
    const std::string& source = files.tokenizer_json;
    const json tj = read_tokenizer_json(files);
    const json& model = tj.value("model", json());
    const std::string type = model.value("type", "");
    if (type != "WordPiece")
        fail("{}: model.type is '{}'; slm convert writes encoders with a WordPiece vocabulary only (llama.cpp's bert)",
             source, type);
    if (model.value("continuing_subword_prefix", "##") != "##")
        fail("{}: continuing_subword_prefix is not '##'", source);
    const json normalizer = tj.value("normalizer", json());
    if (!normalizer.is_object() || normalizer.value("type", "") != "BertNormalizer" || !normalizer.value("lowercase", true))
        fail("{}: the normalizer is not a lowercasing BertNormalizer; llama.cpp's bert tokenizer lowercases every text, so "
             "the GGUF would tokenize differently", source);
    std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
    std::vector<int32_t> types(static_cast<size_t>(vocab_size), kUnused);
    const json vocab = model.value("vocab", json::object());
    if (!vocab.is_object()) fail("{}: model.vocab is not an object", source);
    for (const auto& [piece, id] : vocab.items()) {
        if (!id.is_number_integer()) fail("{}: model.vocab['{}'] is not an integer id", source, piece);
        const int64_t i = id.get<int64_t>();
        if (i < 0 || i >= vocab_size) fail("{}: model.vocab['{}'] = {} is outside the {} embeddings", source, piece, i, vocab_size);
        tokens[size_t(i)] = phantom_space_piece(piece);
        types[size_t(i)] = kNormal;
    }
    auto id_of = [&](const std::string& piece) -> std::optional<int64_t> {
        if (const auto it = vocab.find(piece); it != vocab.end()) return it->get<int64_t>();
        return std::nullopt;
    };
    for (const json& added : tj.value("added_tokens", json::array()))
        if (added.value("special", false))
            if (const int64_t i = added.value("id", int64_t(-1)); i >= 0 && i < vocab_size) types[size_t(i)] = kControl;
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i].empty()) tokens[i] = fmt::format("[PAD{}]", i);
    const auto [cls, sep] = cls_and_sep(tj, source);
    w.set("tokenizer.ggml.model", GgufWriter::str("bert"));
    w.set("tokenizer.ggml.pre", GgufWriter::str("default"));
    w.set("tokenizer.ggml.tokens", GgufWriter::string_array(tokens));
    w.set("tokenizer.ggml.token_type", GgufWriter::i32_array(types));
    auto set_id = [&](const char* key, const std::optional<std::string>& piece) {
        if (!piece) return;
        if (const auto id = id_of(*piece)) w.set(key, GgufWriter::u32(uint32_t(*id)));
    };
    const TokenizerConfig& tc = files.tokenizer_config;
    set_id("tokenizer.ggml.unknown_token_id", model.value("unk_token", json()).is_string()
                                                  ? std::optional(model["unk_token"].get<std::string>()) : tc.unk_token);
    set_id("tokenizer.ggml.seperator_token_id", sep);  // llama.cpp's spelling
    set_id("tokenizer.ggml.padding_token_id", tc.pad_token);
    set_id("tokenizer.ggml.cls_token_id", cls);
    set_id("tokenizer.ggml.mask_token_id", std::string("[MASK]"));
    set_id("tokenizer.ggml.bos_token_id", cls);  // what readers without a cls key add first
    w.set("tokenizer.ggml.add_bos_token", GgufWriter::boolean(true));
    w.set("tokenizer.ggml.add_eos_token", GgufWriter::boolean(false));
}

// The normalizer stages of a tokenizer.json, flattened out of any Sequence.
std::vector<json> normalizer_stages(const json& normalizer) {
    if (!normalizer.is_object()) return {};
    if (normalizer.value("type", "") != "Sequence") return {normalizer};
    std::vector<json> out;
    for (const json& n : normalizer.value("normalizers", json::array())) {
        const auto inner = normalizer_stages(n);
        out.insert(out.end(), inner.begin(), inner.end());
    }
    return out;
}

std::vector<uint8_t> base64_decode(const std::string& text, const std::string& source) {
    std::vector<uint8_t> out;
    uint32_t bits = 0;
    int count = 0;
    for (const char c : text) {
        int v = -1;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else if (c == '=' || c == '\n' || c == '\r') continue;
        else fail("{}: precompiled_charsmap is not base64 (character '{}')", source, c);
        bits = (bits << 6) | uint32_t(v);
        if ((count += 6) >= 8) out.push_back(uint8_t(bits >> (count -= 8)));
    }
    return out;
}

// XLM-R's Unigram vocabulary as llama.cpp's converter writes it ("t5", read by its UGM tokenizer):
// every piece with its log-probability score, token types (the unknown piece 2, special added
// tokens control, other added ones user-defined), [PADn] fillers up to the embedding rows, the
// space prefix the Metaspace pre-tokenizer adds, whether the normalizer collapses runs of spaces,
// SentencePiece's compiled normalization rules when the normalizer carries them, and the special
// ids with "<s> $A </s>" as add_bos and add_eos.
void add_unigram_keys(const ModelFiles& files, int vocab_size, GgufWriter& w) {
    const std::string& source = files.tokenizer_json;
    const json tj = read_tokenizer_json(files);
    const json& model = tj.value("model", json());
    if (model.value("type", "") != "Unigram")
        fail("{}: model.type is '{}'; an XLM-R encoder is written with its Unigram vocabulary", source,
             model.value("type", ""));
    if (model.value("byte_fallback", false))
        fail("{}: a Unigram vocabulary with byte_fallback cannot be written for llama.cpp's UGM tokenizer", source);
    const json& vocab = model.value("vocab", json());
    if (!vocab.is_array()) fail("{}: model.vocab is not a [[piece, score], …] list", source);
    if (int64_t(vocab.size()) > vocab_size)
        fail("{}: {} pieces for {} embedding rows", source, vocab.size(), vocab_size);
    std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
    std::vector<float> scores(static_cast<size_t>(vocab_size), -10000.0f);
    std::vector<int32_t> types(static_cast<size_t>(vocab_size), kUnused);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = fmt::format("[PAD{}]", i);
    for (size_t i = 0; i < vocab.size(); ++i) {
        const json& entry = vocab[i];
        if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number())
            fail("{}: model.vocab[{}] is not [piece, score]", source, i);
        tokens[i] = entry[0].get<std::string>();
        scores[i] = entry[1].get<float>();
        types[i] = kNormal;
    }
    std::optional<int64_t> unk;
    if (model.contains("unk_id") && model["unk_id"].is_number_integer()) unk = model["unk_id"].get<int64_t>();
    for (const json& added : tj.value("added_tokens", json::array())) {
        const int64_t id = added.value("id", int64_t(-1));
        if (id < 0 || id >= vocab_size)
            fail("{}: added token id {} is outside the {} embeddings", source, id, vocab_size);
        tokens[size_t(id)] = added.value("content", "");
        types[size_t(id)] = added.value("special", false) ? kControl : kUserDefined;
    }
    if (unk && *unk >= 0 && *unk < vocab_size) types[size_t(*unk)] = kUnknown;

    // What the GGUF keys can say about the text's preparation: SentencePiece's compiled rules
    // (Precompiled), collapsing runs of spaces (a Replace of " {2,}" by " "), and the "▁" prefix.
    std::vector<uint8_t> charsmap;
    bool collapse_spaces = false;
    for (const json& n : normalizer_stages(tj.value("normalizer", json()))) {
        const std::string type = n.value("type", "");
        if (type == "Precompiled") {
            charsmap = base64_decode(n.value("precompiled_charsmap", ""), source);
        } else if (type == "Replace") {
            const json pattern = n.value("pattern", json());
            const std::string regex = pattern.is_object() ? pattern.value("Regex", "") : "";
            if (regex != " {2,}" || n.value("content", "") != " ")
                fail("{}: the normalizer's Replace of '{}' cannot be written for llama.cpp's UGM tokenizer", source,
                     pattern.dump());
            collapse_spaces = true;
        } else if (type != "NFKC") {
            // NFKC alone (no compiled rules) is the one stage GGUF cannot carry but tolerates: the
            // file's readers then skip it, which changes only texts NFKC would change.
            fail("{}: normalizer '{}' cannot be written for llama.cpp's UGM tokenizer", source, type);
        }
    }
    const json pre = tj.value("pre_tokenizer", json());
    const bool metaspace = pre.is_object() && pre.value("type", "") == "Metaspace";
    if (!metaspace || pre.value("replacement", "\xe2\x96\x81") != "\xe2\x96\x81")
        fail("{}: the pre-tokenizer is not Metaspace with '▁'; llama.cpp's UGM tokenizer spells spaces that way",
             source);
    const bool add_prefix = pre.value("prepend_scheme", "always") != "never" && pre.value("add_prefix_space", true);

    add_scored_vocabulary(w, "t5", tokens, scores, types, add_prefix);
    w.set("tokenizer.ggml.remove_extra_whitespaces", GgufWriter::boolean(collapse_spaces));
    if (!charsmap.empty()) {
        GgufArray bytes;
        bytes.element_type = GgufType::u8;
        bytes.items.reserve(charsmap.size());
        for (const uint8_t b : charsmap) bytes.items.push_back({GgufType::u8, uint64_t(b)});
        w.set("tokenizer.ggml.precompiled_charsmap", {GgufType::array, std::move(bytes)});
    }
    auto id_of = [&](const std::optional<std::string>& piece) -> std::optional<uint32_t> {
        if (!piece) return std::nullopt;
        for (size_t i = 0; i < vocab.size(); ++i)
            if (tokens[i] == *piece) return uint32_t(i);
        return std::nullopt;
    };
    const auto [cls, sep] = cls_and_sep(tj, source);
    auto set_id = [&](const char* key, const std::optional<std::string>& piece) {
        if (const auto id = id_of(piece)) w.set(key, GgufWriter::u32(*id));
    };
    const TokenizerConfig& tc = files.tokenizer_config;
    set_id("tokenizer.ggml.bos_token_id", cls);
    set_id("tokenizer.ggml.eos_token_id", sep);
    if (unk) w.set("tokenizer.ggml.unknown_token_id", GgufWriter::u32(uint32_t(*unk)));
    set_id("tokenizer.ggml.seperator_token_id", sep);  // llama.cpp's spelling
    set_id("tokenizer.ggml.padding_token_id", tc.pad_token);
    set_id("tokenizer.ggml.cls_token_id", cls);
    set_id("tokenizer.ggml.mask_token_id", std::string("<mask>"));
    w.set("tokenizer.ggml.add_bos_token", GgufWriter::boolean(true));  // "<s> $A </s>"
    w.set("tokenizer.ggml.add_eos_token", GgufWriter::boolean(true));
}

// RoBERTa's position ids start at padding_idx + 1 (transformers' create_position_ids_from_input_ids):
// the rows below are never read, and llama.cpp's converter drops them so position 0 is row 0.
int64_t position_offset(const ModelFiles& files) {
    if (files.config.architecture == "bert") return 0;
    const std::string path = (std::filesystem::path(files.path) / "config.json").string();
    const json config = json::parse(read_text_file(path), nullptr, false);
    const json pad = config.is_object() ? config.value("pad_token_id", json()) : json();
    return pad.is_number_integer() ? pad.get<int64_t>() + 1 : 0;
}

}  // namespace

void convert_encoder_to_gguf(const ModelFiles& files, const std::string& out_path, const ConvertOptions& options,
                             ThreadPool* pool) {
    const ModelConfig& c = files.config;
    const std::string& dir = files.path;
    if (c.architecture != "bert" && c.architecture != "xlm-roberta")
        fail("{}: slm convert writes BERT and XLM-R encoders; '{}' has a vocabulary llama.cpp's bert reader does not "
             "take",
             dir, c.architecture);
    const formats::SentenceTransformersConfig st = formats::read_sentence_transformers_config(dir);
    const int64_t offset = position_offset(files);
    if (offset >= c.max_position)
        fail("{}: max_position_embeddings {} leaves no position past the padding offset {}", dir, c.max_position,
             offset);

    GgufWriter w;
    add_model_header(w, "bert", converted_model_name(dir, options),
                     {uint32_t(c.num_layers), uint32_t(c.max_position - offset), uint32_t(c.hidden_size),
                      uint32_t(c.intermediate_size), uint32_t(c.num_heads)});
    w.set("bert.attention.layer_norm_epsilon", GgufWriter::f32(float(c.rms_norm_eps)));
    w.set("bert.attention.causal", GgufWriter::boolean(false));
    // llama.cpp's pooling types: 1 mean, 2 cls, 3 last.
    if (st.pooling) w.set("bert.pooling_type", GgufWriter::u32(*st.pooling == "mean" ? 1 : *st.pooling == "cls" ? 2 : 3));
    add_file_type(w, options.type);
    if (c.architecture == "bert")
        add_wordpiece_keys(files, c.vocab_size, w);
    else
        add_unigram_keys(files, c.vocab_size, w);

    const std::vector<std::string> sources = files.tensors->tensor_names();
    std::vector<OwnedTensor> converted;
    converted.reserve(sources.size());
    Progress progress("convert", sources.size(), "tensors");
    ThreadPool serial(1);
    for (const std::string& src_name : sources) {
        const std::optional<std::string> gguf_name = encoder_gguf_name(src_name);
        if (!gguf_name) fail("{}: tensor '{}' has no GGUF name for a bert encoder", files.tensors->describe(), src_name);
        if (gguf_name->empty()) {  // pooler, MLM head: not part of an embedding model
            progress.advance();
            continue;
        }
        if (gguf_name->rfind("token_types.", 0) == 0)
            w.set("tokenizer.ggml.token_type_count", GgufWriter::u32(uint32_t(files.tensors->find_tensor(src_name)->rows())));
        Tensor src = *files.tensors->find_tensor(src_name);
        if (offset > 0 && *gguf_name == "position_embd.weight") {  // rows from the padding offset on
            src.data = src.row(offset);
            src.shape[0] -= offset;
        }
        if (!traits(src.dtype).to_float)
            fail("{}: tensor '{}' has type {} which cannot be converted", dir, src_name, name(src.dtype));
        // As llama.cpp's converter: vectors and the position and token-type tables stay f32.
        const bool keep_f32 = src.ndim() < 2 || gguf_name->rfind("position_embd.", 0) == 0 ||
                              gguf_name->rfind("token_types.", 0) == 0;
        DType out_type = keep_f32 ? DType::f32 : options.type;
        if (src.row_length() % traits(out_type).block_size != 0) out_type = DType::f16;  // as llama.cpp falls back
        OwnedTensor out = OwnedTensor::zeros(out_type, src.shape);
        quant::convert_rows(src.dtype, src.data, out_type, out.buffer.data(), src.rows(), src.row_length(),
                            pool ? *pool : serial);
        w.add_tensor(*gguf_name, out_type, src.shape, out.buffer.data());
        converted.push_back(std::move(out));
        progress.advance();
    }
    progress.finish();
    w.write(out_path);
}

}  // namespace slm::convert
