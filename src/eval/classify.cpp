// Accuracy and macro-F1 with scikit-learn's conventions (sorted label union, F1 = 2tp/(2tp+fp+fn),
// 0 for a label without true positives).
#include <slm/error.h>
#include <slm/eval/classify.h>

#include <map>

namespace slm::eval {

ClassificationScores classification_scores(const std::vector<std::string>& gold, const std::vector<std::string>& predicted) {
    if (gold.size() != predicted.size())
        fail("classification: {} gold labels but {} predictions", gold.size(), predicted.size());
    if (gold.empty()) fail("classification: no examples to score");
    struct Counts {
        size_t tp = 0, fp = 0, fn = 0;
    };
    std::map<std::string, Counts> per_label;  // sorted, as sklearn's unique_labels
    size_t correct = 0;
    for (size_t i = 0; i < gold.size(); ++i) {
        if (gold[i] == predicted[i]) {
            ++correct;
            ++per_label[gold[i]].tp;
        } else {
            ++per_label[gold[i]].fn;
            ++per_label[predicted[i]].fp;
        }
    }
    ClassificationScores s;
    s.examples = gold.size();
    s.labels = per_label.size();
    s.accuracy = static_cast<double>(correct) / static_cast<double>(gold.size());
    double sum = 0;
    for (auto& [label, c] : per_label)
        if (c.tp > 0) sum += 2.0 * static_cast<double>(c.tp) / static_cast<double>(2 * c.tp + c.fp + c.fn);
    s.macro_f1 = sum / static_cast<double>(per_label.size());
    return s;
}

}  // namespace slm::eval
