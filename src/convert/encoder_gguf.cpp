// BERT-family encoders to GGUF in llama.cpp's `bert` form: keys (attention.causal false,
// pooling_type, layer_norm_epsilon, token_type_count), tensors renamed by the encoder's name
// table (1-D tensors, the position and token-type tables f32; matrices in the chosen type), and the
// WordPiece vocabulary spelled as llama.cpp's WPM tokenizer reads it: a word-initial piece gets
// "▁" in front, a "##" continuation loses its "##", a bracketed special stays as it is.
#include "convert/encoder_gguf.h"

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
constexpr int32_t kNormal = 1, kControl = 3, kUnused = 5;

uint32_t file_type_of(DType t) {
    switch (t) {
        case DType::f32: return 0;
        case DType::f16: return 1;
        case DType::q8_0: return 7;
        case DType::bf16: return 32;
        default: fail("slm convert: --type {} is not supported (f32, f16, bf16 or q8_0)", name(t));
    }
}

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

void add_wordpiece_keys(const ModelFiles& files, int vocab_size, GgufWriter& w) {
    if (files.tokenizer_json.empty()) fail("{}: no tokenizer.json; slm convert needs it to write the vocabulary", files.path);
    const std::string& source = files.tokenizer_json;
    const json tj = json::parse(read_text_file(source), nullptr, false);
    if (!tj.is_object()) fail("{}: invalid JSON", source);
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

}  // namespace

void convert_encoder_to_gguf(const ModelFiles& files, const std::string& out_path, const ConvertOptions& options,
                             ThreadPool* pool) {
    const ModelConfig& c = files.config;
    const std::string& dir = files.path;
    if (c.architecture != "bert")
        fail("{}: slm convert writes BERT encoders only; '{}' has a vocabulary llama.cpp's bert reader does not take",
             dir, c.architecture);
    const formats::SentenceTransformersConfig st = formats::read_sentence_transformers_config(dir);
    std::string model_name = options.name;
    if (model_name.empty()) model_name = std::filesystem::path(dir).lexically_normal().filename().string();
    if (model_name.empty()) model_name = std::filesystem::path(dir).parent_path().filename().string();

    GgufWriter w;
    w.set("general.architecture", GgufWriter::str("bert"));
    w.set("general.type", GgufWriter::str("model"));
    w.set("general.name", GgufWriter::str(model_name));
    w.set("bert.block_count", GgufWriter::u32(uint32_t(c.num_layers)));
    w.set("bert.context_length", GgufWriter::u32(uint32_t(c.max_position)));
    w.set("bert.embedding_length", GgufWriter::u32(uint32_t(c.hidden_size)));
    w.set("bert.feed_forward_length", GgufWriter::u32(uint32_t(c.intermediate_size)));
    w.set("bert.attention.head_count", GgufWriter::u32(uint32_t(c.num_heads)));
    w.set("bert.attention.layer_norm_epsilon", GgufWriter::f32(float(c.rms_norm_eps)));
    w.set("bert.attention.causal", GgufWriter::boolean(false));
    // llama.cpp's pooling types: 1 mean, 2 cls, 3 last.
    if (st.pooling) w.set("bert.pooling_type", GgufWriter::u32(*st.pooling == "mean" ? 1 : *st.pooling == "cls" ? 2 : 3));
    w.set("general.file_type", GgufWriter::u32(file_type_of(options.type)));
    w.set("general.quantization_version", GgufWriter::u32(2));
    add_wordpiece_keys(files, c.vocab_size, w);

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
        const Tensor src = *files.tensors->find_tensor(src_name);
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
