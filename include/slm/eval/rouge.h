// ROUGE-N, ROUGE-L and ROUGE-Lsum exactly as Google's rouge-score package computes them: its
// tokenizer (lowercase, ASCII letters and digits only), NLTK's Porter stemmer for words longer than
// three characters, union-LCS for Lsum over newline-separated sentences, best-of-references
// (score_multi) and the seeded bootstrap aggregation of its BootstrapAggregator.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace slm::eval {

struct RougeScore {
    double precision = 0, recall = 0, fmeasure = 0;
};

// By rouge type: "rouge1".."rouge9", "rougeL", "rougeLsum".
using RougeScores = std::map<std::string, RougeScore>;

// NLTK's PorterStemmer in its default NLTK_EXTENSIONS mode, on a lowercase ASCII word.
std::string porter_stem(std::string_view word);

// rouge-score's DefaultTokenizer.
std::vector<std::string> rouge_tokenize(std::string_view text, bool use_stemmer);

class RougeScorer {
public:
    // Throws slm::Error naming an unknown type.
    RougeScorer(std::vector<std::string> types, bool use_stemmer);

    RougeScores score(std::string_view target, std::string_view prediction) const;
    // Per type, the target with the highest F-measure (the first on ties), as rouge-score's score_multi.
    RougeScores score_multi(const std::vector<std::string>& targets, std::string_view prediction) const;
    const std::vector<std::string>& types() const { return types_; }

private:
    std::vector<std::string> types_;
    bool use_stemmer_;
};

struct RougeInterval {
    RougeScore low, mid, high;
};

// rouge-score's BootstrapAggregator after numpy.random.seed(seed): n_samples resamples of the
// per-example scores (drawn as numpy's legacy RandomState draws them), the mean of each, then the
// (1-confidence)/2, 50 and 1-(1-confidence)/2 percentiles. Types are processed in `types` order.
std::map<std::string, RougeInterval> bootstrap_aggregate(const std::vector<RougeScores>& scores,
                                                         const std::vector<std::string>& types, int n_samples = 1000,
                                                         double confidence_interval = 0.95, uint32_t seed = 0);

}  // namespace slm::eval
