// Tokenizer: runs the pipeline (added tokens, normalizer, pre-tokenizer, model, post-processor)
// for encode, the decoder for decode, and answers vocabulary questions.
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/gguf.h>
#include <slm/tokenizer.h>

#include "tokenizer/decoders.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/unicode_text.h"

namespace slm {

namespace tok {

int32_t Vocab::add(const std::string& piece, TokenKind kind, float score) {
    auto it = ids.find(piece);
    if (it != ids.end()) return it->second;
    auto id = static_cast<int32_t>(pieces.size());
    pieces.push_back(piece);
    kinds.push_back(kind);
    if (!scores.empty() || score != 0.0f) {
        scores.resize(pieces.size(), 0.0f);
        scores.back() = score;
    }
    ids.emplace(piece, id);
    return id;
}

void Vocab::index_byte_tokens() {
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
        std::string piece = "<0x";
        piece += hex[b >> 4];
        piece += hex[b & 15];
        piece += '>';
        auto id = find(piece);
        byte_tokens[b] = id ? *id : -1;
    }
}

}  // namespace tok

std::vector<int32_t> TokenizerPipeline::encode(std::string_view text, bool add_special, bool parse_special) const {
    std::vector<int32_t> ids;
    std::string input = tok::repair_utf8(text);
    std::vector<tok::Section> raw;
    added.split(input, false, parse_special, true, raw);
    std::vector<tok::Section> sub;
    std::vector<tok::Piece> pieces;
    for (const tok::Section& section : raw) {
        if (section.token >= 0) {
            ids.push_back(section.token);
            continue;
        }
        std::string normalized = normalizer ? normalizer->normalize(section.text) : section.text;
        sub.clear();
        added.split(normalized, true, parse_special, section.at_origin, sub);
        for (const tok::Section& s : sub) {
            if (s.token >= 0) {
                ids.push_back(s.token);
                continue;
            }
            pieces.clear();
            pieces.push_back({s.text, s.at_origin});
            if (pre_tokenizer) pre_tokenizer->split(pieces);
            for (const tok::Piece& p : pieces) model->tokenize(p.text, ids);
        }
    }
    if (add_special && (!post.prefix.empty() || !post.suffix.empty())) {
        ids.insert(ids.begin(), post.prefix.begin(), post.prefix.end());
        ids.insert(ids.end(), post.suffix.begin(), post.suffix.end());
    }
    return ids;
}

std::string TokenizerPipeline::decode(const int32_t* ids, size_t n, bool skip_special) const {
    // As Hugging Face tokenizers: every piece, added tokens included, goes through the decoder.
    std::string text;
    std::vector<std::string> chunk;
    auto run_decoder = [&] {
        if (chunk.empty()) return;
        if (decoder) {
            decoder->decode_chain(chunk);
            for (const auto& t : chunk) text += t;
        } else {
            for (size_t i = 0; i < chunk.size(); ++i) {
                if (i) text += ' ';
                text += chunk[i];
            }
        }
        chunk.clear();
    };
    for (size_t i = 0; i < n; ++i) {
        int32_t id = ids[i];
        if (id < 0 || id >= vocab.size()) continue;
        auto uid = static_cast<size_t>(id);
        if (skip_special && special[uid]) continue;
        chunk.push_back(vocab.pieces[uid]);
    }
    run_decoder();
    if (clean_up_spaces) text = tok::clean_up_tokenization(std::move(text));
    return text;
}

void TokenizerPipeline::finish() {
    vocab.index_byte_tokens();
    size_t n = vocab.pieces.size();
    special.assign(n, false);
    added_id.assign(n, false);
    for (size_t i = 0; i < n; ++i) {
        if (vocab.kinds[i] == tok::TokenKind::control) special[i] = true;
        if (vocab.kinds[i] == tok::TokenKind::control || vocab.kinds[i] == tok::TokenKind::user_defined)
            added_id[i] = true;
    }
    for (const auto& t : added.tokens()) {
        if (t.id < 0 || static_cast<size_t>(t.id) >= n) continue;
        added_id[static_cast<size_t>(t.id)] = true;
        if (t.special) special[static_cast<size_t>(t.id)] = true;
    }
    // End-of-generation ids: the declared EOS, then the end-of-turn markers chat models use.
    eos_ids.clear();
    if (eos) eos_ids.push_back(*eos);
    static const char* const end_of_turn[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                              "<|endoftext|>", "<EOT>", "<|eom_id|>",
                                              "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"};
    for (const char* piece : end_of_turn) {
        auto id = vocab.find(piece);
        if (!id || !special[static_cast<size_t>(*id)]) continue;
        if (std::find(eos_ids.begin(), eos_ids.end(), *id) == eos_ids.end()) eos_ids.push_back(*id);
    }
}

Tokenizer::Tokenizer(std::unique_ptr<TokenizerPipeline> pipeline) : pipeline_(std::move(pipeline)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    return pipeline_->encode(text, add_special, parse_special);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
    return pipeline_->decode(ids.data(), ids.size(), skip_special);
}

std::string Tokenizer::token_piece(int32_t id) const {
    if (id < 0 || id >= pipeline_->vocab.size()) return {};
    return pipeline_->vocab.pieces[static_cast<size_t>(id)];
}

int32_t Tokenizer::vocab_size() const { return pipeline_->vocab.size(); }
std::optional<int32_t> Tokenizer::token_id(std::string_view piece) const { return pipeline_->vocab.find(piece); }
std::optional<int32_t> Tokenizer::bos_id() const { return pipeline_->bos; }
std::optional<int32_t> Tokenizer::unk_id() const { return pipeline_->unk; }
std::optional<int32_t> Tokenizer::pad_id() const { return pipeline_->pad; }
std::vector<int32_t> Tokenizer::eos_ids() const { return pipeline_->eos_ids; }
bool Tokenizer::add_bos() const { return pipeline_->add_bos; }
bool Tokenizer::add_eos() const { return pipeline_->add_eos; }
std::string Tokenizer::type_name() const { return pipeline_->type_name; }

bool Tokenizer::is_special(int32_t id) const {
    return id >= 0 && id < pipeline_->vocab.size() && pipeline_->special[static_cast<size_t>(id)];
}

std::string Tokenizer::token_bytes(int32_t id) const {
    std::string piece = token_piece(id);
    const auto& p = *pipeline_;
    if (id < 0 || id >= p.vocab.size() || p.added_id[static_cast<size_t>(id)]) return piece;
    using S = TokenizerPipeline::PieceSpelling;
    if (p.spelling == S::byte_level) return tok::bytes_from_byte_level(piece);
    if (p.spelling == S::metaspace) {
        for (int b = 0; b < 256; ++b)
            if (p.vocab.byte_token(static_cast<uint8_t>(b)) == id) return std::string(1, static_cast<char>(b));
        std::string out;
        for (size_t i = 0; i < piece.size();) {
            if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
                out += ' ';
                i += 3;
            } else {
                out += piece[i++];
            }
        }
        return out;
    }
    return piece;
}

std::unique_ptr<Tokenizer> Tokenizer::from_hf_files(const std::string& tokenizer_json_path,
                                                    const std::string& tokenizer_config_json_path) {
    std::string json = read_text_file(tokenizer_json_path);
    std::string config = tokenizer_config_json_path.empty() ? std::string() : read_text_file(tokenizer_config_json_path);
    return from_hf_json(json, config, tokenizer_json_path);
}

std::unique_ptr<Tokenizer> Tokenizer::from_model_path(const std::string& path) {
    if (is_directory(path)) {
        std::string json = path + "/tokenizer.json";
        if (!file_exists(json)) fail("{}: no tokenizer.json in this model directory", path);
        std::string config = path + "/tokenizer_config.json";
        return from_hf_files(json, file_exists(config) ? config : std::string());
    }
    if (!file_exists(path)) fail("{}: no such file or directory", path);
    if (path.ends_with(".json")) {  // a tokenizer.json named directly; its config sits beside it
        std::string config = path.substr(0, path.find_last_of('/') + 1) + "tokenizer_config.json";
        return from_hf_files(path, file_exists(config) ? config : std::string());
    }
    auto gguf = GgufFile::open(path);
    return from_gguf(*gguf);
}

// StreamingDecoder: decodes ids[prefix_offset_..] and returns what lies beyond the text of
// ids[prefix_offset_..read_offset_), once it ends in complete UTF-8 (as transformers' streamers).
StreamingDecoder::StreamingDecoder(const Tokenizer& tok, bool skip_special) : tok_(tok), skip_special_(skip_special) {}

std::string StreamingDecoder::push(int32_t id) {
    ids_.push_back(id);
    std::span<const int32_t> all(ids_);
    std::string prefix = tok_.decode(all.subspan(prefix_offset_, read_offset_ - prefix_offset_), skip_special_);
    std::string text = tok_.decode(all.subspan(prefix_offset_), skip_special_);
    // An incomplete character shows as U+FFFD at the end (or text shorter than the prefix): wait.
    if (text.size() <= prefix.size() || text.ends_with("\xEF\xBF\xBD") || text.compare(0, prefix.size(), prefix) != 0)
        return {};
    std::string fresh = text.substr(prefix.size());
    prefix_offset_ = read_offset_;
    read_offset_ = ids_.size();
    return fresh;
}

std::string StreamingDecoder::flush() {
    std::span<const int32_t> all(ids_);
    std::string prefix = tok_.decode(all.subspan(prefix_offset_, read_offset_ - prefix_offset_), skip_special_);
    std::string text = tok_.decode(all.subspan(prefix_offset_), skip_special_);
    prefix_offset_ = read_offset_ = ids_.size();
    if (text.size() <= prefix.size() || text.compare(0, prefix.size(), prefix) != 0) return {};
    return text.substr(prefix.size());
}

}  // namespace slm
