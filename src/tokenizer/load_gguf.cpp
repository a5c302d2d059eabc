// Builds a TokenizerPipeline from GGUF tokenizer.ggml.* metadata, reproducing llama.cpp's
// tokenizers: SPM ("llama"), byte-level BPE ("gpt2") with the split rules of
// tokenizer.ggml.pre, WPM ("bert") and UGM ("t5").
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/tokenizer.h>

#include "tokenizer/decoders.h"
#include "tokenizer/gguf_pre_tokenizers.h"
#include "tokenizer/models.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/pre_tokenizers.h"

namespace slm {

using namespace tok;

namespace {

const char* const kSpace = "\xE2\x96\x81";  // ▁

std::unique_ptr<Normalizer> spm_normalizer(bool add_space_prefix) {
    auto seq = std::make_unique<SequenceNormalizer>();
    // llama.cpp prefixes a space to every text fragment that starts the input or follows a
    // special token; fragments between added tokens are normalized one by one, so Prepend does it.
    if (add_space_prefix) seq->stages.push_back(std::make_unique<PrependNormalizer>(" "));
    seq->stages.push_back(std::make_unique<ReplaceNormalizer>(std::string(" "), std::string(kSpace)));
    return seq;
}

std::unique_ptr<Decoder> spm_decoder(bool strip_leading_space) {
    auto seq = std::make_unique<SequenceDecoder>();
    seq->stages.push_back(std::make_unique<ReplaceDecoder>(std::string(kSpace), std::string(" ")));
    seq->stages.push_back(std::make_unique<ByteFallbackDecoder>());
    seq->stages.push_back(std::make_unique<FuseDecoder>());
    if (strip_leading_space) {
        auto strip = std::make_unique<StripDecoder>();
        strip->start = 1;
        seq->stages.push_back(std::move(strip));
    }
    return seq;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& gguf) {
    auto pipeline = std::make_unique<TokenizerPipeline>();
    TokenizerPipeline& p = *pipeline;
    const std::string& path = gguf.path();
    p.source = path;

    const std::string model = gguf.get_string("tokenizer.ggml.model").value_or("");
    if (model.empty()) fail("{}: no tokenizer.ggml.model key: the file carries no vocabulary", path);
    std::vector<std::string> tokens = gguf.get_string_array("tokenizer.ggml.tokens");
    if (tokens.empty()) fail("{}: tokenizer.ggml.tokens is missing or empty", path);
    std::vector<double> scores = gguf.get_float_array("tokenizer.ggml.scores");
    std::vector<int64_t> types = gguf.get_int_array("tokenizer.ggml.token_type");
    if (!scores.empty() && scores.size() != tokens.size())
        fail("{}: tokenizer.ggml.scores has {} entries for {} tokens", path, scores.size(), tokens.size());
    if (!types.empty() && types.size() != tokens.size())
        fail("{}: tokenizer.ggml.token_type has {} entries for {} tokens", path, types.size(), tokens.size());

    // Vocabulary. GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    p.vocab.pieces.reserve(tokens.size());
    p.vocab.ids.reserve(tokens.size());
    if (!scores.empty()) p.vocab.scores.reserve(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
        std::string piece = tokens[i].empty() ? fmt::format("[EMPTY_{}]", i) : std::move(tokens[i]);
        TokenKind kind = TokenKind::normal;
        if (!types.empty()) {
            switch (types[i]) {
                case 2: kind = TokenKind::unknown; break;
                case 3: kind = TokenKind::control; break;
                case 4: kind = TokenKind::user_defined; break;
                case 5: kind = TokenKind::unused; break;
                case 6: kind = TokenKind::byte; break;
                default: break;
            }
        }
        p.vocab.pieces.push_back(piece);
        p.vocab.kinds.push_back(kind);
        if (!scores.empty()) p.vocab.scores.push_back(static_cast<float>(scores[i]));
        p.vocab.ids.insert_or_assign(std::move(piece), static_cast<int32_t>(i));
    }
    p.vocab.index_byte_tokens();

    auto id_key = [&](const char* key) -> std::optional<int32_t> {
        auto v = gguf.get_int(key);
        if (!v) return std::nullopt;
        if (*v < 0 || *v >= p.vocab.size()) return std::nullopt;  // llama.cpp ignores out-of-range ids
        return static_cast<int32_t>(*v);
    };
    p.bos = id_key("tokenizer.ggml.bos_token_id");
    p.eos = id_key("tokenizer.ggml.eos_token_id");
    p.unk = id_key("tokenizer.ggml.unknown_token_id");
    p.pad = id_key("tokenizer.ggml.padding_token_id");
    auto sep = id_key("tokenizer.ggml.seperator_token_id");

    const std::string pre = gguf.get_string("tokenizer.ggml.pre").value_or("");
    if (model == "llama") {
        bool add_space_prefix = gguf.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
        p.normalizer = spm_normalizer(add_space_prefix);
        auto spm = std::make_unique<ScoredBpeModel>(p.vocab);
        spm->unk = p.unk;
        p.model = std::move(spm);
        p.decoder = spm_decoder(add_space_prefix);
        p.add_bos = true;
        p.type_name = "SentencePiece BPE";
        p.spelling = TokenizerPipeline::PieceSpelling::metaspace;
        if (!p.bos) p.bos = p.vocab.find("<s>");
        if (!p.eos) p.eos = p.vocab.find("</s>");
    } else if (model == "gpt2") {
        const GgufPreTokenizerRules* rules = gguf_pre_tokenizer_rules(pre);
        if (!rules) fail("{}: tokenizer.ggml.pre '{}' is not a pre-tokenizer llama.cpp knows", path, pre);
        auto seq = std::make_unique<SequencePreTokenizer>();
        for (const std::string& r : rules->regexes) {
            auto split = std::make_unique<RegexSplitPreTokenizer>();
            split->regex = std::make_unique<Regex>(r, fmt::format("{}: tokenizer.ggml.pre {}", path, pre));
            seq->stages.push_back(std::move(split));
        }
        seq->stages.push_back(std::make_unique<ByteLevelPreTokenizer>(false, false));
        p.pre_tokenizer = std::move(seq);
        auto bpe = std::make_unique<BpeModel>(p.vocab);
        bpe->ignore_merges = rules->ignore_merges;
        std::vector<std::string> merges = gguf.get_string_array("tokenizer.ggml.merges");
        if (merges.empty()) fail("{}: tokenizer.ggml.merges is missing (a gpt2 vocabulary needs its merges)", path);
        for (size_t i = 0; i < merges.size(); ++i) {
            size_t space = merges[i].find(' ', 1);
            if (space == std::string::npos) fail("{}: tokenizer.ggml.merges[{}] '{}' has no space", path, i, merges[i]);
            bpe->add_merge(std::string_view(merges[i]).substr(0, space), std::string_view(merges[i]).substr(space + 1),
                           static_cast<int32_t>(i));
        }
        p.model = std::move(bpe);
        p.decoder = std::make_unique<ByteLevelDecoder>();
        p.add_bos = rules->add_bos;
        p.type_name = "BPE (byte-level)";
        p.spelling = TokenizerPipeline::PieceSpelling::byte_level;
    } else if (model == "bert") {
        auto norm = std::make_unique<BertNormalizer>();
        p.normalizer = std::move(norm);
        p.pre_tokenizer = make_bert_pre_tokenizer();
        auto wpm = std::make_unique<WordPieceModel>(p.vocab);
        if (!p.unk) p.unk = 100;
        wpm->unk = *p.unk;
        wpm->word_prefix = kSpace;
        wpm->continuing_prefix = "";
        wpm->max_input_chars_per_word = SIZE_MAX;
        p.model = std::move(wpm);
        p.decoder = spm_decoder(true);
        if (!p.bos) p.bos = p.vocab.find("[CLS]");
        if (!sep) sep = p.vocab.find("[SEP]");
        p.add_bos = true;
        p.type_name = "WordPiece";
    } else if (model == "t5") {
        // llama.cpp's UGM: SentencePiece's compiled rules (NFKC is what they encode for the
        // nmt_nfkc rule set, as for a tokenizer.json's Precompiled), then, when asked, leading and
        // trailing spaces dropped and runs of them collapsed, then the spaces spelled "▁".
        auto seq = std::make_unique<SequenceNormalizer>();
        if (gguf.find("tokenizer.ggml.precompiled_charsmap"))
            seq->stages.push_back(std::make_unique<UnicodeNormalizer>(NormalForm::nfkc));
        if (gguf.get_bool("tokenizer.ggml.remove_extra_whitespaces").value_or(false)) {
            seq->stages.push_back(std::make_unique<StripNormalizer>());
            auto collapse = std::make_unique<ReplaceNormalizer>(std::string(" {2,}"), std::string(" "));
            collapse->regex =
                std::make_unique<Regex>(collapse->pattern, fmt::format("{}: remove_extra_whitespaces", path));
            seq->stages.push_back(std::move(collapse));
        }
        seq->stages.push_back(spm_normalizer(gguf.get_bool("tokenizer.ggml.add_space_prefix").value_or(true)));
        p.normalizer = std::move(seq);
        auto uni = std::make_unique<UnigramModel>(p.vocab);
        uni->unk = p.unk;
        p.model = std::move(uni);
        p.decoder = spm_decoder(true);
        p.add_eos = true;
        p.type_name = "Unigram";
        p.spelling = TokenizerPipeline::PieceSpelling::metaspace;
    } else {
        fail("{}: tokenizer.ggml.model '{}' is not supported (llama, gpt2, bert and t5 are)", path, model);
    }
    if (auto v = gguf.get_bool("tokenizer.ggml.add_bos_token")) p.add_bos = *v;
    if (auto v = gguf.get_bool("tokenizer.ggml.add_eos_token")) p.add_eos = *v;
    if (p.add_bos && p.bos) p.post.prefix.push_back(*p.bos);
    if (model == "bert") {
        if (sep) p.post.suffix.push_back(*sep);
    } else if (p.add_eos && p.eos) {
        p.post.suffix.push_back(*p.eos);
    }

    // Control and unknown tokens are parsed in text only when asked; user-defined ones always.
    for (int32_t id = 0; id < p.vocab.size(); ++id) {
        TokenKind kind = p.vocab.kinds[static_cast<size_t>(id)];
        if (kind != TokenKind::control && kind != TokenKind::user_defined && kind != TokenKind::unknown) continue;
        AddedToken a;
        a.id = id;
        a.content = p.vocab.pieces[static_cast<size_t>(id)];
        a.special = kind != TokenKind::user_defined;
        p.added.add(std::move(a));
        if (kind == TokenKind::unknown) p.vocab.kinds[static_cast<size_t>(id)] = TokenKind::control;
    }
    p.finish();
    for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
        auto id = id_key(key);
        if (id && std::find(p.eos_ids.begin(), p.eos_ids.end(), *id) == p.eos_ids.end()) p.eos_ids.push_back(*id);
    }
    return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(pipeline)));
}

}  // namespace slm
