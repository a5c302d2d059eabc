// BLEU statistics and score as sacrebleu's BLEU metric: n-gram matches clipped by the maximum count
// over references, the closest reference length, corpus sums, then smoothing and brevity penalty.
#include <slm/error.h>
#include <slm/eval/bleu.h>

#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <unordered_map>

#include "eval/python_text.h"

namespace slm::eval {
namespace {

// One map per n-gram order; a key is the n tokens joined by single spaces (tokens hold no spaces).
using NgramCounts = std::vector<std::unordered_map<std::string, int64_t>>;

NgramCounts count_ngrams(const std::vector<std::string>& tokens, int max_order) {
    NgramCounts counts(static_cast<size_t>(max_order));
    for (int n = 1; n <= max_order; ++n) {
        for (size_t i = 0; i + static_cast<size_t>(n) <= tokens.size(); ++i) {
            std::string key = tokens[i];
            for (int k = 1; k < n; ++k) key += ' ' + tokens[i + static_cast<size_t>(k)];
            ++counts[static_cast<size_t>(n - 1)][key];
        }
    }
    return counts;
}

std::vector<std::string> preprocess(const std::string& segment, const BleuOptions& options) {
    std::string text = options.lowercase ? py::lower(segment) : segment;
    std::string rstripped = py::encode(py::rstrip(py::decode(text)));
    return py::split(std::string_view(tokenize_for_bleu(rstripped, options.tokenizer)));
}

// sacrebleu's _get_closest_ref_len: the smallest length among those nearest to the hypothesis.
int64_t closest_ref_len(int64_t hyp_len, const std::vector<int64_t>& ref_lens) {
    int64_t best_diff = -1, best_len = -1;
    for (int64_t len : ref_lens) {
        int64_t diff = std::llabs(hyp_len - len);
        if (best_diff == -1 || diff < best_diff) {
            best_diff = diff;
            best_len = len;
        } else if (diff == best_diff && len < best_len) {
            best_len = len;
        }
    }
    return best_len;
}

struct SegmentStats {
    int64_t sys_len = 0, ref_len = 0;
    std::vector<int64_t> correct, total;
};

SegmentStats segment_stats(const std::string& hyp, const std::vector<const std::string*>& refs,
                           const BleuOptions& options) {
    const int order = options.max_ngram_order;
    NgramCounts ref_max(static_cast<size_t>(order));
    std::vector<int64_t> ref_lens;
    for (const std::string* ref : refs) {
        auto tokens = preprocess(*ref, options);
        ref_lens.push_back(static_cast<int64_t>(tokens.size()));
        auto counts = count_ngrams(tokens, order);
        for (size_t n = 0; n < counts.size(); ++n)
            for (auto& [ngram, count] : counts[n]) {
                int64_t& best = ref_max[n][ngram];
                if (count > best) best = count;
            }
    }
    auto hyp_tokens = preprocess(hyp, options);
    SegmentStats stats;
    stats.sys_len = static_cast<int64_t>(hyp_tokens.size());
    stats.ref_len = closest_ref_len(stats.sys_len, ref_lens);
    stats.correct.assign(static_cast<size_t>(order), 0);
    stats.total.assign(static_cast<size_t>(order), 0);
    auto hyp_counts = count_ngrams(hyp_tokens, order);
    for (size_t n = 0; n < hyp_counts.size(); ++n)
        for (auto& [ngram, count] : hyp_counts[n]) {
            stats.total[n] += count;
            auto it = ref_max[n].find(ngram);
            if (it != ref_max[n].end()) stats.correct[n] += std::min(count, it->second);
        }
    return stats;
}

double default_smooth_value(BleuSmoothing smoothing) {
    return smoothing == BleuSmoothing::kFloor ? 0.1 : smoothing == BleuSmoothing::kAddK ? 1.0 : 0.0;
}

// sacrebleu's my_log: log with log(0) floored to a huge negative number.
double floored_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

std::string signature(size_t nrefs, const BleuOptions& options) {
    std::string smooth(name_of(options.smoothing));
    if (options.smoothing == BleuSmoothing::kFloor || options.smoothing == BleuSmoothing::kAddK)
        smooth += fmt::format("[{:.2f}]", options.smooth_value.value_or(default_smooth_value(options.smoothing)));
    return fmt::format("nrefs:{}|case:{}|eff:{}|tok:{}|smooth:{}|version:{}", nrefs,
                       options.lowercase ? "lc" : "mixed", options.effective_order ? "yes" : "no",
                       name_of(options.tokenizer), smooth, kSacrebleuVersion);
}

// sacrebleu's BLEU.compute_bleu over summed statistics.
BleuScore compute_bleu(const SegmentStats& sums, const BleuOptions& options) {
    const size_t order = static_cast<size_t>(options.max_ngram_order);
    const double smooth_value = options.smooth_value.value_or(default_smooth_value(options.smoothing));
    BleuScore s;
    s.sys_len = sums.sys_len;
    s.ref_len = sums.ref_len;
    s.counts.assign(sums.correct.begin(), sums.correct.end());
    s.totals.assign(sums.total.begin(), sums.total.end());
    s.precisions.assign(order, 0.0);
    if (s.sys_len < s.ref_len)
        s.bp = s.sys_len > 0 ? std::exp(1.0 - static_cast<double>(s.ref_len) / static_cast<double>(s.sys_len)) : 0.0;

    bool any_match = false;
    for (double c : s.counts) any_match = any_match || c != 0;
    if (!any_match) {
        s.score = 0.0;
        return s;
    }
    double smooth_mteval = 1.0;
    size_t eff_order = order;
    for (size_t n = 1; n <= order; ++n) {
        if (options.smoothing == BleuSmoothing::kAddK && n > 1) {
            s.counts[n - 1] += smooth_value;
            s.totals[n - 1] += smooth_value;
        }
        if (s.totals[n - 1] == 0) break;
        if (options.effective_order) eff_order = n;
        if (s.counts[n - 1] == 0) {
            if (options.smoothing == BleuSmoothing::kExp) {
                smooth_mteval *= 2;
                s.precisions[n - 1] = 100.0 / (smooth_mteval * s.totals[n - 1]);
            } else if (options.smoothing == BleuSmoothing::kFloor) {
                s.precisions[n - 1] = 100.0 * smooth_value / s.totals[n - 1];
            }
        } else {
            s.precisions[n - 1] = 100.0 * s.counts[n - 1] / s.totals[n - 1];
        }
    }
    double log_sum = 0.0;
    for (size_t n = 0; n < eff_order; ++n) log_sum += floored_log(s.precisions[n]);
    s.score = s.bp * std::exp(log_sum / static_cast<double>(eff_order));
    return s;
}

}  // namespace

BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& options) {
    if (options.max_ngram_order < 1) fail("BLEU: max n-gram order must be at least 1, got {}", options.max_ngram_order);
    if (refs.empty()) fail("BLEU: no references given");
    for (size_t k = 0; k < refs.size(); ++k)
        if (refs[k].size() != hyps.size())
            fail("BLEU: reference stream {} has {} lines but there are {} hypotheses", k + 1, refs[k].size(),
                 hyps.size());
    SegmentStats sums;
    sums.correct.assign(static_cast<size_t>(options.max_ngram_order), 0);
    sums.total = sums.correct;
    std::vector<const std::string*> segment_refs(refs.size());
    for (size_t i = 0; i < hyps.size(); ++i) {
        for (size_t k = 0; k < refs.size(); ++k) segment_refs[k] = &refs[k][i];
        SegmentStats st = segment_stats(hyps[i], segment_refs, options);
        sums.sys_len += st.sys_len;
        sums.ref_len += st.ref_len;
        for (size_t n = 0; n < st.correct.size(); ++n) {
            sums.correct[n] += st.correct[n];
            sums.total[n] += st.total[n];
        }
    }
    BleuScore score = compute_bleu(sums, options);
    score.signature = signature(refs.size(), options);
    return score;
}

BleuScore sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs, const BleuOptions& options) {
    std::vector<std::vector<std::string>> streams;
    for (const auto& ref : refs) streams.push_back({ref});
    return corpus_bleu({hyp}, streams, options);
}

BleuScore sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs) {
    BleuOptions options;
    options.effective_order = true;
    return sentence_bleu(hyp, refs, options);
}

}  // namespace slm::eval
