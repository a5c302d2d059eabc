// ROUGE as rouge-score: n-gram overlap (ROUGE-N), longest common subsequence (ROUGE-L) and the
// summary-level union LCS over newline-separated sentences (ROUGE-Lsum), with its tokenizer.
#include <slm/error.h>
#include <slm/eval/rouge.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "eval/python_text.h"

namespace slm::eval {
namespace {

double fmeasure(double precision, double recall) {
    return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}

RougeScore make_score(double precision, double recall) { return {precision, recall, fmeasure(precision, recall)}; }

// rouge-score's types: rouge1..rouge9 (n-grams), rougeL, rougeLsum; 0 = not an n-gram type.
int ngram_order(const std::string& type) {
    if (type.size() == 6 && type.compare(0, 5, "rouge") == 0 && type[5] >= '0' && type[5] <= '9') return type[5] - '0';
    return 0;
}

RougeScore score_ngrams(const std::vector<std::string>& target, const std::vector<std::string>& prediction, int n) {
    auto count = [n](const std::vector<std::string>& tokens) {
        std::unordered_map<std::string, int64_t> counts;
        for (size_t i = 0; i + static_cast<size_t>(n) <= tokens.size(); ++i) {
            std::string key = tokens[i];
            for (int k = 1; k < n; ++k) key += ' ' + tokens[i + static_cast<size_t>(k)];
            ++counts[key];
        }
        return counts;
    };
    auto target_counts = count(target), prediction_counts = count(prediction);
    int64_t overlap = 0, target_total = 0, prediction_total = 0;
    for (auto& [ngram, c] : target_counts) {
        target_total += c;
        auto it = prediction_counts.find(ngram);
        if (it != prediction_counts.end()) overlap += std::min(c, it->second);
    }
    for (auto& [ngram, c] : prediction_counts) prediction_total += c;
    return make_score(static_cast<double>(overlap) / static_cast<double>(std::max<int64_t>(prediction_total, 1)),
                      static_cast<double>(overlap) / static_cast<double>(std::max<int64_t>(target_total, 1)));
}

using LcsTable = std::vector<std::vector<int>>;

LcsTable lcs_table(const std::vector<std::string>& ref, const std::vector<std::string>& can) {
    LcsTable t(ref.size() + 1, std::vector<int>(can.size() + 1, 0));
    for (size_t i = 1; i <= ref.size(); ++i)
        for (size_t j = 1; j <= can.size(); ++j)
            t[i][j] = ref[i - 1] == can[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
    return t;
}

// rouge-score's _backtrack_norec: indices into `ref` of one longest common subsequence.
std::vector<size_t> lcs_indices(const std::vector<std::string>& ref, const std::vector<std::string>& can) {
    LcsTable t = lcs_table(ref, can);
    std::vector<size_t> out;
    size_t i = ref.size(), j = can.size();
    while (i > 0 && j > 0) {
        if (ref[i - 1] == can[j - 1]) {
            out.push_back(i - 1);
            --i;
            --j;
        } else if (t[i][j - 1] > t[i - 1][j]) {
            --j;
        } else {
            --i;
        }
    }
    std::reverse(out.begin(), out.end());
    return out;
}

RougeScore score_lcs(const std::vector<std::string>& target, const std::vector<std::string>& prediction) {
    if (target.empty() || prediction.empty()) return {};
    const double lcs = lcs_table(target, prediction).back().back();
    return make_score(lcs / static_cast<double>(prediction.size()), lcs / static_cast<double>(target.size()));
}

// Sentences are the non-empty pieces between "\n".
std::vector<std::vector<std::string>> sentence_tokens(std::string_view text, bool use_stemmer) {
    std::vector<std::vector<std::string>> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        if (end > start) out.push_back(rouge_tokenize(text.substr(start, end - start), use_stemmer));
        start = end + 1;
    }
    return out;
}

// ROUGE-Lsum: for each reference sentence the union of its LCS with every candidate sentence, each
// token counted at most as often as it occurs on both sides (as ROUGE-1.5.5).
RougeScore score_summary_lcs(const std::vector<std::vector<std::string>>& ref_sents,
                             const std::vector<std::vector<std::string>>& can_sents) {
    if (ref_sents.empty() || can_sents.empty()) return {};
    size_t m = 0, n = 0;
    std::unordered_map<std::string, int64_t> ref_counts, can_counts;
    for (auto& s : ref_sents) {
        m += s.size();
        for (auto& t : s) ++ref_counts[t];
    }
    for (auto& s : can_sents) {
        n += s.size();
        for (auto& t : s) ++can_counts[t];
    }
    if (m == 0 || n == 0) return {};
    int64_t hits = 0;
    for (auto& r : ref_sents) {
        std::set<size_t> union_indices;
        for (auto& c : can_sents)
            for (size_t i : lcs_indices(r, c)) union_indices.insert(i);
        for (size_t i : union_indices) {
            const std::string& t = r[i];
            auto rc = ref_counts.find(t), cc = can_counts.find(t);
            if (cc != can_counts.end() && cc->second > 0 && rc != ref_counts.end() && rc->second > 0) {
                ++hits;
                --cc->second;
                --rc->second;
            }
        }
    }
    return make_score(static_cast<double>(hits) / static_cast<double>(n), static_cast<double>(hits) / static_cast<double>(m));
}

bool is_ascii_alnum(char32_t c) { return (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9'); }

}  // namespace

std::vector<std::string> rouge_tokenize(std::string_view text, bool use_stemmer) {
    // Lowercase (Python's full mapping: "K" and "İ" matter), then every run of anything but a-z0-9
    // is a separator.
    std::u32string lowered = py::lower(py::decode(text));
    std::vector<std::string> tokens;
    size_t i = 0;
    while (i < lowered.size()) {
        while (i < lowered.size() && !is_ascii_alnum(lowered[i])) ++i;
        std::string token;
        while (i < lowered.size() && is_ascii_alnum(lowered[i])) token.push_back(static_cast<char>(lowered[i++]));
        if (token.empty()) continue;
        if (use_stemmer && token.size() > 3) token = porter_stem(token);
        if (!token.empty()) tokens.push_back(std::move(token));
    }
    return tokens;
}

RougeScorer::RougeScorer(std::vector<std::string> types, bool use_stemmer)
    : types_(std::move(types)), use_stemmer_(use_stemmer) {
    if (types_.empty()) fail("ROUGE: no rouge types given");
    for (const auto& type : types_)
        if (type != "rougeL" && type != "rougeLsum" && ngram_order(type) <= 0)
            fail("ROUGE: invalid rouge type '{}' (expected rouge1..rouge9, rougeL or rougeLsum)", type);
}

RougeScores RougeScorer::score(std::string_view target, std::string_view prediction) const {
    auto target_tokens = rouge_tokenize(target, use_stemmer_);
    auto prediction_tokens = rouge_tokenize(prediction, use_stemmer_);
    RougeScores result;
    for (const auto& type : types_) {
        if (type == "rougeL")
            result[type] = score_lcs(target_tokens, prediction_tokens);
        else if (type == "rougeLsum")
            result[type] = score_summary_lcs(sentence_tokens(target, use_stemmer_), sentence_tokens(prediction, use_stemmer_));
        else
            result[type] = score_ngrams(target_tokens, prediction_tokens, ngram_order(type));
    }
    return result;
}

RougeScores RougeScorer::score_multi(const std::vector<std::string>& targets, std::string_view prediction) const {
    if (targets.empty()) fail("ROUGE: no reference given for a prediction");
    std::vector<RougeScores> all;
    for (const auto& t : targets) all.push_back(score(t, prediction));
    RougeScores best;
    for (const auto& type : types_) {
        size_t arg = 0;
        for (size_t k = 1; k < all.size(); ++k)
            if (all[k][type].fmeasure > all[arg][type].fmeasure) arg = k;
        best[type] = all[arg][type];
    }
    return best;
}

}  // namespace slm::eval
