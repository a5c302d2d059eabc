// BLEU exactly as sacrebleu computes it (corpus_bleu and sentence_bleu): its tokenizers (13a, intl,
// zh, char, none), smoothing methods (exp, floor, add-k, none), closest reference length, effective
// order and the signature string it prints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slm::eval {

// The sacrebleu release whose behaviour (and signature "version:") these metrics reproduce.
inline constexpr std::string_view kSacrebleuVersion = "2.6.0";

enum class BleuTokenizer { k13a, kIntl, kZh, kChar, kNone };
enum class BleuSmoothing { kExp, kFloor, kAddK, kNone };

BleuTokenizer parse_bleu_tokenizer(std::string_view name);  // "13a", "intl", ...; throws slm::Error
BleuSmoothing parse_bleu_smoothing(std::string_view name);  // "exp", "floor", "add-k", "none"
std::string_view name_of(BleuTokenizer tokenizer);
std::string_view name_of(BleuSmoothing smoothing);

// One segment through sacrebleu's tokenizer; tokens come out separated by single spaces.
std::string tokenize_for_bleu(std::string_view segment, BleuTokenizer tokenizer);

struct BleuOptions {
    BleuTokenizer tokenizer = BleuTokenizer::k13a;
    bool lowercase = false;
    BleuSmoothing smoothing = BleuSmoothing::kExp;
    std::optional<double> smooth_value;  // floor: 0.1, add-k: 1 when unset (sacrebleu's defaults)
    bool effective_order = false;        // sentence_bleu turns it on
    int max_ngram_order = 4;
};

struct BleuScore {
    double score = 0;                // 0..100
    std::vector<double> counts;      // matched n-grams per order (add-k adds its k here, as sacrebleu)
    std::vector<double> totals;      // hypothesis n-grams per order
    std::vector<double> precisions;  // 0..100 per order
    double bp = 1;                   // brevity penalty
    int64_t sys_len = 0, ref_len = 0;
    std::string signature;           // e.g. nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0
};

// refs[k][i] is the k-th reference of segment i (sacrebleu's reference streams); every stream must
// have one line per hypothesis.
BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& options = {});

// sacrebleu.sentence_bleu: the same statistics for one segment. Without options, its defaults
// (13a, exp smoothing, effective order on).
BleuScore sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs, const BleuOptions& options);
BleuScore sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs);

}  // namespace slm::eval
