// Builds a TokenizerPipeline from Hugging Face tokenizer.json (+ tokenizer_config.json): the
// model, normalizer, pre-tokenizer, post-processor and decoder each from their JSON objects.
#include <nlohmann/json.hpp>
#include <slm/error.h>
#include <slm/tokenizer.h>

#include "tokenizer/decoders.h"
#include "tokenizer/models.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/pre_tokenizers.h"

namespace slm {

using nlohmann::json;
using namespace tok;

namespace {

struct HfLoader {
    std::string source;
    TokenizerPipeline& p;

    [[noreturn]] void bad(const std::string& field, const std::string& what) const {
        fail("{}: {}: {}", source, field, what);
    }

    static const json* member(const json& j, const char* key) {
        if (!j.is_object()) return nullptr;
        auto it = j.find(key);
        return it == j.end() || it->is_null() ? nullptr : &*it;
    }
    bool get_bool(const json& j, const char* key, bool fallback) const {
        const json* v = member(j, key);
        if (!v) return fallback;
        if (!v->is_boolean()) bad(key, "expected true or false");
        return v->get<bool>();
    }
    std::string get_string(const json& j, const char* key, const std::string& fallback, const std::string& where) const {
        const json* v = member(j, key);
        if (!v) return fallback;
        if (!v->is_string()) bad(where + "." + key, "expected a string");
        return v->get<std::string>();
    }
    std::string type_of(const json& j, const std::string& where) const {
        if (!j.is_object()) bad(where, "expected an object");
        return get_string(j, "type", "", where);
    }
    // {"String": s} or {"Regex": r}: sets literal or regex.
    void pattern(const json& j, const std::string& where, std::string& literal, std::unique_ptr<Regex>& regex) const {
        const json* pat = member(j, "pattern");
        if (!pat || !pat->is_object()) bad(where + ".pattern", "expected {\"String\": …} or {\"Regex\": …}");
        if (const json* s = member(*pat, "String"); s && s->is_string()) {
            literal = s->get<std::string>();
        } else if (const json* r = member(*pat, "Regex"); r && r->is_string()) {
            regex = std::make_unique<Regex>(r->get<std::string>(), source + ": " + where);
        } else {
            bad(where + ".pattern", "expected {\"String\": …} or {\"Regex\": …}");
        }
    }

    void load_vocab(const json& model) {
        const std::string type = get_string(model, "type", "", "model");
        const json* vocab = member(model, "vocab");
        if (!vocab) bad("model.vocab", "missing");
        auto place = [&](int64_t id, std::string piece, float score) {
            if (id < 0 || id > 10'000'000) bad("model.vocab", fmt::format("token id {} out of range", id));
            auto i = static_cast<size_t>(id);
            if (p.vocab.pieces.size() <= i) {
                p.vocab.pieces.resize(i + 1);
                p.vocab.kinds.resize(i + 1, TokenKind::unused);
            }
            p.vocab.pieces[i] = piece;
            p.vocab.kinds[i] = TokenKind::normal;
            if (type == "Unigram") {
                if (p.vocab.scores.size() <= i) p.vocab.scores.resize(i + 1, 0.0f);
                p.vocab.scores[i] = score;
            }
            p.vocab.ids.insert_or_assign(std::move(piece), static_cast<int32_t>(id));
        };
        if (type == "Unigram") {
            if (!vocab->is_array()) bad("model.vocab", "expected [[piece, score], …] for Unigram");
            int64_t id = 0;
            for (const json& e : *vocab) {
                if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
                    bad("model.vocab", fmt::format("entry {} is not [piece, score]", id));
                place(id++, e[0].get<std::string>(), e[1].get<float>());
            }
        } else {
            if (!vocab->is_object()) bad("model.vocab", "expected {piece: id, …}");
            for (auto it = vocab->begin(); it != vocab->end(); ++it) {
                if (!it.value().is_number_integer()) bad("model.vocab", fmt::format("id of '{}' is not an integer", it.key()));
                place(it.value().get<int64_t>(), it.key(), 0.0f);
            }
        }
    }

    void load_added_tokens(const json& root) {
        const json* added = member(root, "added_tokens");
        if (!added) return;
        if (!added->is_array()) bad("added_tokens", "expected an array");
        for (const json& t : *added) {
            AddedToken a;
            const json* id = member(t, "id");
            if (!id || !id->is_number_integer()) bad("added_tokens", "an entry has no integer id");
            a.id = id->get<int32_t>();
            a.content = get_string(t, "content", "", "added_tokens");
            if (a.id < 0 || a.content.empty()) bad("added_tokens", fmt::format("entry {} has a bad id or empty content", a.id));
            a.special = get_bool(t, "special", false);
            a.lstrip = get_bool(t, "lstrip", false);
            a.rstrip = get_bool(t, "rstrip", false);
            a.single_word = get_bool(t, "single_word", false);
            a.normalized = get_bool(t, "normalized", !a.special);
            auto i = static_cast<size_t>(a.id);
            if (i > 10'000'000) bad("added_tokens", fmt::format("token id {} out of range", a.id));
            if (p.vocab.pieces.size() <= i) {
                p.vocab.pieces.resize(i + 1);
                p.vocab.kinds.resize(i + 1, TokenKind::unused);
                if (!p.vocab.scores.empty()) p.vocab.scores.resize(i + 1, 0.0f);
            }
            p.vocab.pieces[i] = a.content;
            p.vocab.kinds[i] = a.special ? TokenKind::control : TokenKind::user_defined;
            p.vocab.ids.insert_or_assign(a.content, a.id);
            p.added.add(std::move(a));
        }
    }

    std::optional<int32_t> token_named(const std::string& piece, const std::string& field) const {
        if (piece.empty()) return std::nullopt;
        auto id = p.vocab.find(piece);
        if (!id) bad(field, fmt::format("token '{}' is not in the vocabulary", piece));
        return id;
    }

    std::unique_ptr<TokenModel> make_model(const json& model) {
        const std::string type = type_of(model, "model");
        if (type == "BPE" || type.empty()) {
            auto bpe = std::make_unique<BpeModel>(p.vocab);
            bpe->byte_fallback = get_bool(model, "byte_fallback", false);
            bpe->ignore_merges = get_bool(model, "ignore_merges", false);
            bpe->fuse_unk = get_bool(model, "fuse_unk", false);
            bpe->continuing_subword_prefix = get_string(model, "continuing_subword_prefix", "", "model");
            bpe->end_of_word_suffix = get_string(model, "end_of_word_suffix", "", "model");
            std::string unk = get_string(model, "unk_token", "", "model");
            bpe->unk = p.vocab.find(unk);
            const json* merges = member(model, "merges");
            if (merges && !merges->is_array()) bad("model.merges", "expected an array");
            int32_t rank = 0;
            if (merges) {
                for (const json& m : *merges) {
                    std::string left, right;
                    if (m.is_string()) {
                        const std::string& s = m.get_ref<const std::string&>();
                        size_t space = s.find(' ', 1);
                        if (space == std::string::npos) bad("model.merges", fmt::format("merge {} '{}' has no space", rank, s));
                        left = s.substr(0, space);
                        right = s.substr(space + 1);
                    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
                        left = m[0].get<std::string>();
                        right = m[1].get<std::string>();
                    } else {
                        bad("model.merges", fmt::format("merge {} is neither \"a b\" nor [a, b]", rank));
                    }
                    bpe->add_merge(left, right, rank++);
                }
            }
            p.type_name = "BPE";
            return bpe;
        }
        if (type == "Unigram") {
            auto uni = std::make_unique<UnigramModel>(p.vocab);
            if (const json* unk = member(model, "unk_id")) {
                if (!unk->is_number_integer()) bad("model.unk_id", "expected an integer");
                uni->unk = unk->get<int32_t>();
            }
            uni->byte_fallback = get_bool(model, "byte_fallback", false);
            p.type_name = "Unigram";
            return uni;
        }
        if (type == "WordPiece") {
            auto wp = std::make_unique<WordPieceModel>(p.vocab);
            std::string unk = get_string(model, "unk_token", "[UNK]", "model");
            auto id = token_named(unk, "model.unk_token");
            wp->unk = *id;
            wp->continuing_prefix = get_string(model, "continuing_subword_prefix", "##", "model");
            if (const json* m = member(model, "max_input_chars_per_word"); m && m->is_number_integer())
                wp->max_input_chars_per_word = m->get<size_t>();
            p.type_name = "WordPiece";
            return wp;
        }
        bad("model.type", fmt::format("unsupported tokenizer model '{}' (BPE, Unigram and WordPiece are)", type));
    }

    std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
        const std::string type = type_of(j, where);
        if (type == "Sequence") {
            auto seq = std::make_unique<SequenceNormalizer>();
            const json* list = member(j, "normalizers");
            if (!list || !list->is_array()) bad(where + ".normalizers", "expected an array");
            for (size_t i = 0; i < list->size(); ++i)
                seq->stages.push_back(make_normalizer((*list)[i], fmt::format("{}.normalizers[{}]", where, i)));
            return seq;
        }
        if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::nfc);
        if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::nfd);
        if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::nfkc);
        if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::nfkd);
        // Precompiled is SentencePiece's compiled normalization rules; NFKC is what they encode
        // for the common nmt_nfkc rule set.
        if (type == "Precompiled") return std::make_unique<UnicodeNormalizer>(NormalForm::nfkc);
        if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
        if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
        if (type == "Strip") {
            auto s = std::make_unique<StripNormalizer>();
            s->left = get_bool(j, "strip_left", true);
            s->right = get_bool(j, "strip_right", true);
            return s;
        }
        if (type == "Prepend") return std::make_unique<PrependNormalizer>(get_string(j, "prepend", "", where));
        if (type == "Replace") {
            auto r = std::make_unique<ReplaceNormalizer>();
            pattern(j, where, r->pattern, r->regex);
            r->content = get_string(j, "content", "", where);
            return r;
        }
        if (type == "BertNormalizer") {
            auto b = std::make_unique<BertNormalizer>();
            b->clean_text = get_bool(j, "clean_text", true);
            b->handle_chinese_chars = get_bool(j, "handle_chinese_chars", true);
            b->lowercase = get_bool(j, "lowercase", true);
            b->strip_accents = get_bool(j, "strip_accents", b->lowercase);
            return b;
        }
        bad(where + ".type", fmt::format("unsupported normalizer '{}'", type));
    }

    PrependScheme prepend_scheme(const json& j, const std::string& where) const {
        if (const json* s = member(j, "prepend_scheme")) {
            std::string v = s->is_string() ? s->get<std::string>() : "";
            if (v == "always") return PrependScheme::always;
            if (v == "first") return PrependScheme::first;
            if (v == "never") return PrependScheme::never;
            bad(where + ".prepend_scheme", fmt::format("unknown value '{}'", v));
        }
        return get_bool(j, "add_prefix_space", true) ? PrependScheme::always : PrependScheme::never;
    }

    std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
        const std::string type = type_of(j, where);
        if (type == "Sequence") {
            auto seq = std::make_unique<SequencePreTokenizer>();
            const json* list = member(j, "pretokenizers");
            if (!list || !list->is_array()) bad(where + ".pretokenizers", "expected an array");
            for (size_t i = 0; i < list->size(); ++i)
                seq->stages.push_back(make_pre_tokenizer((*list)[i], fmt::format("{}.pretokenizers[{}]", where, i)));
            return seq;
        }
        if (type == "Split") {
            auto s = std::make_unique<RegexSplitPreTokenizer>();
            pattern(j, where, s->literal, s->regex);
            s->behavior = parse_split_behavior(get_string(j, "behavior", "Isolated", where), source + ": " + where);
            s->invert = get_bool(j, "invert", false);
            return s;
        }
        if (type == "ByteLevel") {
            p.spelling = TokenizerPipeline::PieceSpelling::byte_level;
            return std::make_unique<ByteLevelPreTokenizer>(get_bool(j, "add_prefix_space", true), get_bool(j, "use_regex", true));
        }
        if (type == "Metaspace") {
            auto m = std::make_unique<MetaspacePreTokenizer>();
            m->replacement = get_string(j, "replacement", m->replacement, where);
            m->prepend = prepend_scheme(j, where);
            m->split_words = get_bool(j, "split", true);
            return m;
        }
        if (type == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
        if (type == "WhitespaceSplit") return make_whitespace_split_pre_tokenizer();
        if (type == "BertPreTokenizer") return make_bert_pre_tokenizer();
        if (type == "Digits") return make_digits_pre_tokenizer(get_bool(j, "individual_digits", false));
        if (type == "Punctuation")
            return make_punctuation_pre_tokenizer(parse_split_behavior(get_string(j, "behavior", "Isolated", where), source + ": " + where));
        bad(where + ".type", fmt::format("unsupported pre-tokenizer '{}'", type));
    }

    // Fills p.post from a post-processor (single-sequence part only).
    void load_post_processor(const json& j, const std::string& where) {
        const std::string type = type_of(j, where);
        auto pair_id = [&](const char* key) {
            const json* v = member(j, key);
            if (!v || !v->is_array() || v->size() != 2 || !(*v)[1].is_number_integer())
                bad(where + "." + key, "expected [token, id]");
            return (*v)[1].get<int32_t>();
        };
        if (type == "Sequence") {
            const json* list = member(j, "processors");
            if (!list || !list->is_array()) bad(where + ".processors", "expected an array");
            for (size_t i = 0; i < list->size(); ++i) load_post_processor((*list)[i], fmt::format("{}.processors[{}]", where, i));
            return;
        }
        if (type == "ByteLevel") return;  // only trims offsets
        if (type == "BertProcessing" || type == "RobertaProcessing") {
            p.post.prefix = {pair_id("cls")};
            p.post.suffix = {pair_id("sep")};
            return;
        }
        if (type == "TemplateProcessing") {
            const json* single = member(j, "single");
            const json* specials = member(j, "special_tokens");
            if (!single || !single->is_array()) bad(where + ".single", "expected an array");
            p.post.prefix.clear();
            p.post.suffix.clear();
            bool seen_sequence = false;
            for (const json& item : *single) {
                if (member(item, "Sequence")) {
                    seen_sequence = true;
                    continue;
                }
                const json* st = member(item, "SpecialToken");
                if (!st) bad(where + ".single", "items must be Sequence or SpecialToken");
                std::string name = get_string(*st, "id", "", where + ".single");
                const json* entry = specials ? member(*specials, name.c_str()) : nullptr;
                std::vector<int32_t> ids;
                if (entry && member(*entry, "ids") && (*entry)["ids"].is_array()) {
                    for (const json& id : (*entry)["ids"]) ids.push_back(id.get<int32_t>());
                } else if (auto id = p.vocab.find(name)) {
                    ids.push_back(*id);
                } else {
                    bad(where + ".special_tokens", fmt::format("special token '{}' has no id", name));
                }
                auto& target = seen_sequence ? p.post.suffix : p.post.prefix;
                target.insert(target.end(), ids.begin(), ids.end());
            }
            return;
        }
        bad(where + ".type", fmt::format("unsupported post-processor '{}'", type));
    }

    std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
        const std::string type = type_of(j, where);
        if (type == "Sequence") {
            auto seq = std::make_unique<SequenceDecoder>();
            const json* list = member(j, "decoders");
            if (!list || !list->is_array()) bad(where + ".decoders", "expected an array");
            for (size_t i = 0; i < list->size(); ++i)
                seq->stages.push_back(make_decoder((*list)[i], fmt::format("{}.decoders[{}]", where, i)));
            return seq;
        }
        if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
        if (type == "Metaspace") {
            auto m = std::make_unique<MetaspaceDecoder>();
            m->replacement = get_string(j, "replacement", m->replacement, where);
            m->prepend = prepend_scheme(j, where);
            return m;
        }
        if (type == "WordPiece") {
            auto w = std::make_unique<WordPieceDecoder>();
            w->prefix = get_string(j, "prefix", "##", where);
            w->cleanup = get_bool(j, "cleanup", true);
            return w;
        }
        if (type == "Replace") {
            auto r = std::make_unique<ReplaceDecoder>();
            pattern(j, where, r->pattern, r->regex);
            r->content = get_string(j, "content", "", where);
            return r;
        }
        if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
        if (type == "Fuse") return std::make_unique<FuseDecoder>();
        if (type == "Strip") {
            auto s = std::make_unique<StripDecoder>();
            s->content = get_string(j, "content", " ", where);
            if (const json* v = member(j, "start"); v && v->is_number_integer()) s->start = v->get<size_t>();
            if (const json* v = member(j, "stop"); v && v->is_number_integer()) s->stop = v->get<size_t>();
            return s;
        }
        if (type == "BPEDecoder") {
            auto b = std::make_unique<BpeSuffixDecoder>();
            b->suffix = get_string(j, "suffix", "</w>", where);
            return b;
        }
        bad(where + ".type", fmt::format("unsupported decoder '{}'", type));
    }

    // tokenizer_config.json: special-token names may be strings or {"content": …} objects.
    static std::string token_text(const json& config, const char* key) {
        const json* v = member(config, key);
        if (!v) return {};
        if (v->is_string()) return v->get<std::string>();
        if (const json* c = member(*v, "content"); c && c->is_string()) return c->get<std::string>();
        return {};
    }

    void load(std::string_view tokenizer_json, std::string_view config_json) {
        json root = json::parse(tokenizer_json, nullptr, false);
        if (root.is_discarded() || !root.is_object()) fail("{}: not a valid JSON object", source);
        json config;
        if (!config_json.empty()) {
            config = json::parse(config_json, nullptr, false);
            if (config.is_discarded() || !config.is_object()) fail("{}: tokenizer_config.json is not a valid JSON object", source);
        }
        const json* model = member(root, "model");
        if (!model) bad("model", "missing");
        load_vocab(*model);
        load_added_tokens(root);
        // Added tokens from tokenizer_config.json's added_tokens_decoder that tokenizer.json lacks.
        if (const json* decoder_tokens = member(config, "added_tokens_decoder"); decoder_tokens && decoder_tokens->is_object()) {
            for (auto it = decoder_tokens->begin(); it != decoder_tokens->end(); ++it) {
                int32_t id = std::atoi(it.key().c_str());
                std::string content = get_string(it.value(), "content", "", "added_tokens_decoder");
                if (content.empty() || p.added.find_by_id(id)) continue;
                if (id < 0 || static_cast<size_t>(id) >= p.vocab.pieces.size() || p.vocab.pieces[static_cast<size_t>(id)] != content) continue;
                AddedToken a{id, content, get_bool(it.value(), "special", false), get_bool(it.value(), "lstrip", false),
                             get_bool(it.value(), "rstrip", false), get_bool(it.value(), "single_word", false),
                             get_bool(it.value(), "normalized", false)};
                p.vocab.kinds[static_cast<size_t>(id)] = a.special ? TokenKind::control : TokenKind::user_defined;
                p.added.add(std::move(a));
            }
        }
        for (size_t i = 0; i < p.vocab.pieces.size(); ++i)
            if (p.vocab.pieces[i].empty() && p.vocab.kinds[i] == TokenKind::unused) p.vocab.pieces[i] = fmt::format("[UNUSED_{}]", i);
        p.vocab.index_byte_tokens();

        p.model = make_model(*model);
        if (const json* n = member(root, "normalizer")) p.normalizer = make_normalizer(*n, "normalizer");
        if (const json* pt = member(root, "pre_tokenizer")) p.pre_tokenizer = make_pre_tokenizer(*pt, "pre_tokenizer");
        if (const json* pp = member(root, "post_processor")) load_post_processor(*pp, "post_processor");
        if (const json* d = member(root, "decoder")) {
            p.decoder = make_decoder(*d, "decoder");
            if (type_of(*d, "decoder") == "ByteLevel") p.spelling = TokenizerPipeline::PieceSpelling::byte_level;
        }
        if (p.type_name == "BPE") {
            bool byte_level = p.spelling == TokenizerPipeline::PieceSpelling::byte_level;
            p.type_name = byte_level ? "BPE (byte-level)" : "SentencePiece BPE";
            if (!byte_level) p.spelling = TokenizerPipeline::PieceSpelling::metaspace;
        } else if (p.type_name == "Unigram") {
            p.spelling = TokenizerPipeline::PieceSpelling::metaspace;
        }

        // Special tokens: tokenizer_config.json names them; otherwise infer from the template.
        auto named = [&](const char* key) { return p.vocab.find(token_text(config, key)); };
        p.bos = named("bos_token");
        p.eos = named("eos_token");
        p.unk = named("unk_token");
        p.pad = named("pad_token");
        if (!p.bos && !p.post.prefix.empty() && p.type_name != "WordPiece") p.bos = p.post.prefix.front();
        if (!p.eos) {
            for (const char* name : {"</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "[SEP]"}) {
                if (auto id = p.vocab.find(name)) {
                    p.eos = id;
                    break;
                }
            }
        }
        if (p.type_name == "WordPiece") {
            p.bos = p.bos ? p.bos : p.vocab.find("[CLS]");
            p.unk = p.unk ? p.unk : p.vocab.find("[UNK]");
        }
        // transformers rebuilds the template from add_bos_token/add_eos_token when they are given.
        const json* add_bos = member(config, "add_bos_token");
        const json* add_eos = member(config, "add_eos_token");
        if ((add_bos && add_bos->is_boolean()) || (add_eos && add_eos->is_boolean())) {
            bool want_bos = add_bos && add_bos->is_boolean() ? add_bos->get<bool>() : (p.bos && std::find(p.post.prefix.begin(), p.post.prefix.end(), *p.bos) != p.post.prefix.end());
            bool want_eos = add_eos && add_eos->is_boolean() ? add_eos->get<bool>() : (p.eos && std::find(p.post.suffix.begin(), p.post.suffix.end(), *p.eos) != p.post.suffix.end());
            if (p.bos || p.eos) {
                p.post.prefix.clear();
                p.post.suffix.clear();
                if (want_bos && p.bos) p.post.prefix.push_back(*p.bos);
                if (want_eos && p.eos) p.post.suffix.push_back(*p.eos);
            }
        }
        p.add_bos = p.bos && std::find(p.post.prefix.begin(), p.post.prefix.end(), *p.bos) != p.post.prefix.end();
        p.add_eos = p.eos && std::find(p.post.suffix.begin(), p.post.suffix.end(), *p.eos) != p.post.suffix.end();
        p.clean_up_spaces = get_bool(config, "clean_up_tokenization_spaces", false);
        p.finish();
    }
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_hf_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                                                   const std::string& source) {
    auto pipeline = std::make_unique<TokenizerPipeline>();
    pipeline->source = source;
    HfLoader loader{source, *pipeline};
    try {
        loader.load(tokenizer_json, tokenizer_config_json);
    } catch (const json::exception& e) {
        fail("{}: malformed tokenizer JSON: {}", source, e.what());
    }
    return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(pipeline)));
}

}  // namespace slm
