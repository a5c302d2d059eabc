// SQuAD v1.1 exact match and F1 exactly as the official evaluate-v1.1.py computes them: answer
// normalization (lowercase, ASCII punctuation removed, articles a/an/the removed, whitespace
// collapsed), the best score over the ground truths, and totals on a 0-100 scale.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace slm::eval {

std::string squad_normalize_answer(std::string_view answer);
bool squad_exact_match(std::string_view prediction, std::string_view ground_truth);
double squad_f1(std::string_view prediction, std::string_view ground_truth);  // 0..1

struct SquadAnswerScore {
    double exact_match = 0;  // 0 or 1
    double f1 = 0;           // 0..1
};
// The best exact match and the best F1 over the ground truths (each maximized on its own).
SquadAnswerScore squad_score(std::string_view prediction, const std::vector<std::string>& ground_truths);

struct SquadQuestion {
    std::string id, title, context, question;
    std::vector<std::string> answers;  // the annotators' answer texts, in file order
};

struct SquadDataset {
    std::string version;  // "1.1" for SQuAD v1.1
    std::vector<SquadQuestion> questions;
};

// Reads the SQuAD layout {"version", "data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]};
// throws slm::Error naming the file and the field that is wrong.
SquadDataset load_squad_dataset(const std::string& path);
SquadDataset parse_squad_dataset(std::string_view json_text, const std::string& source_name);

// {"question id": "predicted answer", ...}, as the official script reads it.
std::unordered_map<std::string, std::string> load_squad_predictions(const std::string& path);

struct SquadResult {
    double exact_match = 0, f1 = 0;  // 0..100, over all questions (unanswered ones score 0)
    size_t total = 0;
    std::vector<std::string> unanswered;  // question ids without a prediction
};

SquadResult evaluate_squad(const SquadDataset& dataset, const std::unordered_map<std::string, std::string>& predictions);

}  // namespace slm::eval
