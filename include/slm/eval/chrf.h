// chrF and chrF++ exactly as sacrebleu's CHRF metric computes them: character n-grams (order 6,
// whitespace removed unless asked), optional word n-grams (word order 2 is chrF++), beta 2, the
// best-matching reference per segment, corpus statistics summed before the F-score.
#pragma once

#include <string>
#include <vector>

namespace slm::eval {

struct ChrfOptions {
    int char_order = 6;
    int word_order = 0;  // 2 gives chrF++
    int beta = 2;
    bool lowercase = false;
    bool whitespace = false;     // keep whitespace inside character n-grams
    bool eps_smoothing = false;  // chrF++.py-style epsilon smoothing instead of effective order
};

struct ChrfScore {
    double score = 0;       // 0..100
    std::string name;       // chrF2, chrF2++
    std::string signature;  // e.g. nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0
};

// refs[k][i] is the k-th reference of segment i.
ChrfScore corpus_chrf(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                      const ChrfOptions& options = {});
ChrfScore sentence_chrf(const std::string& hyp, const std::vector<std::string>& refs, const ChrfOptions& options = {});

}  // namespace slm::eval
