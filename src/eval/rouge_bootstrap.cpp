// rouge-score's BootstrapAggregator, drawing the same resamples as numpy's legacy RandomState
// (MT19937 seeded by numpy.random.seed, randint by masked rejection) so a seeded run reproduces
// rouge-score's low/mid/high numbers.
#include <slm/error.h>
#include <slm/eval/rouge.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace slm::eval {
namespace {

// numpy's legacy randint(0, n): draw 32 bits, keep the smallest all-ones mask covering n-1,
// reject values above n-1.
class NumpyLegacyRandint {
public:
    explicit NumpyLegacyRandint(uint32_t seed) : mt_(seed) {}  // numpy.random.seed = MT19937 init_genrand

    size_t below(size_t n) {
        const uint32_t max = static_cast<uint32_t>(n - 1);
        if (max == 0) return 0;
        uint32_t mask = max;
        for (int shift = 1; shift <= 16; shift <<= 1) mask |= mask >> shift;
        uint32_t value;
        do {
            value = static_cast<uint32_t>(mt_()) & mask;
        } while (value > max);
        return value;
    }

private:
    std::mt19937 mt_;
};

// numpy.percentile's default "linear" method, including its two-sided interpolation formula.
double percentile(std::vector<double> values, double q) {
    std::sort(values.begin(), values.end());
    const double index = q / 100.0 * static_cast<double>(values.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(index));
    const size_t hi = std::min(lo + 1, values.size() - 1);
    const double t = index - static_cast<double>(lo);
    const double a = values[lo], b = values[hi], diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

}  // namespace

std::map<std::string, RougeInterval> bootstrap_aggregate(const std::vector<RougeScores>& scores,
                                                         const std::vector<std::string>& types, int n_samples,
                                                         double confidence_interval, uint32_t seed) {
    if (confidence_interval < 0 || confidence_interval > 1)
        fail("ROUGE bootstrap: confidence interval must be in [0, 1], got {}", confidence_interval);
    if (n_samples <= 0) fail("ROUGE bootstrap: the number of samples must be positive, got {}", n_samples);
    if (scores.empty()) fail("ROUGE bootstrap: no scores to aggregate");
    NumpyLegacyRandint rng(seed);
    const size_t n = scores.size();
    const double delta = (1 - confidence_interval) / 2;
    const double q[3] = {100 * delta, 100 * 0.5, 100 * (1 - delta)};
    std::map<std::string, RougeInterval> result;
    for (const auto& type : types) {
        std::vector<double> means[3];  // precision, recall, fmeasure of each resample
        for (int s = 0; s < n_samples; ++s) {
            double sum[3] = {0, 0, 0};
            for (size_t k = 0; k < n; ++k) {
                const RougeScore& x = scores[rng.below(n)].at(type);
                sum[0] += x.precision;
                sum[1] += x.recall;
                sum[2] += x.fmeasure;
            }
            for (int m = 0; m < 3; ++m) means[m].push_back(sum[m] / static_cast<double>(n));
        }
        RougeScore* bounds[3] = {&result[type].low, &result[type].mid, &result[type].high};
        for (int b = 0; b < 3; ++b) {
            bounds[b]->precision = percentile(means[0], q[b]);
            bounds[b]->recall = percentile(means[1], q[b]);
            bounds[b]->fmeasure = percentile(means[2], q[b]);
        }
    }
    return result;
}

}  // namespace slm::eval
