// chrF/chrF++ as sacrebleu: per order (characters 1..6, then words 1..word_order) the hypothesis,
// reference and matched n-gram counts; each segment keeps the reference with the best F-score.
#include <slm/error.h>
#include <slm/eval/bleu.h>
#include <slm/eval/chrf.h>

#include <fmt/format.h>
#include <string_view>
#include <unordered_map>

#include "eval/python_text.h"

namespace slm::eval {
namespace {

// Character n-grams are code-point strings; word n-grams are UTF-8 words joined by spaces. Both
// are kept as std::u32string keys so one counting routine serves both.
using Counts = std::unordered_map<std::u32string, int64_t>;

std::vector<Counts> char_ngrams(std::u32string text, int order, bool whitespace) {
    if (!whitespace) {
        std::u32string joined;
        for (auto& piece : py::split(text)) joined += piece;
        text = std::move(joined);
    }
    std::vector<Counts> out(static_cast<size_t>(order));
    for (int n = 1; n <= order; ++n)
        for (size_t i = 0; i + static_cast<size_t>(n) <= text.size(); ++i)
            ++out[static_cast<size_t>(n - 1)][text.substr(i, static_cast<size_t>(n))];
    return out;
}

bool is_ascii_punct(char32_t c) {
    return (c >= U'!' && c <= U'/') || (c >= U':' && c <= U'@') || (c >= U'[' && c <= U'`') ||
           (c >= U'{' && c <= U'~');
}

// sacrebleu's _remove_punctuation: one punctuation mark split off the end, else off the start.
std::vector<std::u32string> words_without_punctuation(const std::u32string& text) {
    std::vector<std::u32string> out;
    for (auto& w : py::split(text)) {
        if (w.size() == 1) {
            out.push_back(w);
        } else if (is_ascii_punct(w.back())) {
            out.push_back(w.substr(0, w.size() - 1));
            out.push_back(w.substr(w.size() - 1));
        } else if (is_ascii_punct(w.front())) {
            out.push_back(w.substr(0, 1));
            out.push_back(w.substr(1));
        } else {
            out.push_back(w);
        }
    }
    return out;
}

std::vector<Counts> all_ngrams(const std::string& segment, const ChrfOptions& options) {
    std::u32string text = py::decode(segment);
    if (options.lowercase) text = py::lower(text);
    auto counts = char_ngrams(text, options.char_order, options.whitespace);
    if (options.word_order > 0) {
        auto words = words_without_punctuation(text);
        for (int n = 1; n <= options.word_order; ++n) {
            Counts c;
            for (size_t i = 0; i + static_cast<size_t>(n) <= words.size(); ++i) {
                std::u32string key = words[i];
                for (int k = 1; k < n; ++k) key += U' ' + words[i + static_cast<size_t>(k)];
                ++c[key];
            }
            counts.push_back(std::move(c));
        }
    }
    return counts;
}

// [hyp, ref, match] per order, flattened.
std::vector<int64_t> match_stats(const std::vector<Counts>& hyp, const std::vector<Counts>& ref) {
    std::vector<int64_t> stats;
    for (size_t n = 0; n < hyp.size(); ++n) {
        int64_t hyp_count = 0, match = 0, ref_count = 0;
        for (auto& [ngram, count] : hyp[n]) {
            hyp_count += count;
            auto it = ref[n].find(ngram);
            if (it != ref[n].end()) match += std::min(count, it->second);
        }
        for (auto& [ngram, count] : ref[n]) ref_count += count;
        stats.push_back(ref[n].empty() ? 0 : hyp_count);  // no hits counted where the reference has none
        stats.push_back(ref_count);
        stats.push_back(match);
    }
    return stats;
}

double f_score(const std::vector<int64_t>& stats, const ChrfOptions& options) {
    const double eps = 1e-16;
    const double factor = static_cast<double>(options.beta) * options.beta;
    const size_t orders = stats.size() / 3;
    double score = 0, avg_prec = 0, avg_rec = 0;
    int effective_order = 0;
    for (size_t i = 0; i < orders; ++i) {
        const double n_hyp = static_cast<double>(stats[3 * i]), n_ref = static_cast<double>(stats[3 * i + 1]),
                     n_match = static_cast<double>(stats[3 * i + 2]);
        const double prec = n_hyp > 0 ? n_match / n_hyp : eps;
        const double rec = n_ref > 0 ? n_match / n_ref : eps;
        const double denom = factor * prec + rec;
        score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
        if (n_hyp > 0 && n_ref > 0) {
            avg_prec += prec;
            avg_rec += rec;
            ++effective_order;
        }
    }
    if (options.eps_smoothing) return 100 * score / static_cast<double>(orders);
    if (effective_order == 0) {
        avg_prec = avg_rec = 0;
    } else {
        avg_prec /= effective_order;
        avg_rec /= effective_order;
    }
    if (avg_prec + avg_rec == 0) return 0.0;
    return 100 * ((1 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec));
}

}  // namespace

ChrfScore corpus_chrf(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                      const ChrfOptions& options) {
    if (options.char_order < 0 || options.word_order < 0 || options.char_order + options.word_order == 0)
        fail("chrF: character order {} and word order {} leave nothing to count", options.char_order,
             options.word_order);
    if (refs.empty()) fail("chrF: no references given");
    for (size_t k = 0; k < refs.size(); ++k)
        if (refs[k].size() != hyps.size())
            fail("chrF: reference stream {} has {} lines but there are {} hypotheses", k + 1, refs[k].size(),
                 hyps.size());
    const size_t orders = static_cast<size_t>(options.char_order + options.word_order);
    std::vector<int64_t> sums(3 * orders, 0);
    for (size_t i = 0; i < hyps.size(); ++i) {
        auto hyp = all_ngrams(hyps[i], options);
        std::vector<int64_t> best;
        double best_f = -1.0;
        for (const auto& stream : refs) {
            auto stats = match_stats(hyp, all_ngrams(stream[i], options));
            double f = f_score(stats, options);
            if (f > best_f) {
                best_f = f;
                best = std::move(stats);
            }
        }
        for (size_t j = 0; j < sums.size(); ++j) sums[j] += best[j];
    }
    ChrfScore s;
    s.score = f_score(sums, options);
    s.name = fmt::format("chrF{}{}", options.beta, std::string(static_cast<size_t>(options.word_order), '+'));
    s.signature = fmt::format("nrefs:{}|case:{}|eff:{}|nc:{}|nw:{}|space:{}|version:{}", refs.size(),
                              options.lowercase ? "lc" : "mixed", options.eps_smoothing ? "no" : "yes",
                              options.char_order, options.word_order, options.whitespace ? "yes" : "no",
                              kSacrebleuVersion);
    return s;
}

ChrfScore sentence_chrf(const std::string& hyp, const std::vector<std::string>& refs, const ChrfOptions& options) {
    std::vector<std::vector<std::string>> streams;
    for (const auto& ref : refs) streams.push_back({ref});
    return corpus_chrf({hyp}, streams, options);
}

}  // namespace slm::eval
