// Classification metrics as scikit-learn computes them: accuracy_score and
// f1_score(average="macro", zero_division=0) over the labels seen in either gold or predictions.
#pragma once

#include <string>
#include <vector>

namespace slm::eval {

struct ClassificationScores {
    double accuracy = 0;  // 0..1
    double macro_f1 = 0;  // 0..1, unweighted mean of the per-label F1
    size_t examples = 0, labels = 0;
};

// gold and predicted must have the same length (throws slm::Error otherwise, or when empty).
ClassificationScores classification_scores(const std::vector<std::string>& gold, const std::vector<std::string>& predicted);

}  // namespace slm::eval
