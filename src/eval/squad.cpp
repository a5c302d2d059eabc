// SQuAD v1.1 scoring as the official evaluate-v1.1.py: normalize_answer, token-level F1 with
// multiset overlap, exact match, best over ground truths, and the dataset/predictions readers.
#include <slm/error.h>
#include <slm/eval/squad.h>
#include <slm/file_io.h>

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "eval/python_text.h"

namespace slm::eval {
namespace {

bool is_string_punctuation(char32_t c) {  // Python's string.punctuation
    return (c >= U'!' && c <= U'/') || (c >= U':' && c <= U'@') || (c >= U'[' && c <= U'`') ||
           (c >= U'{' && c <= U'~');
}

// re.sub(r'\b(a|an|the)\b', ' ', text): a whole run of word characters equal to an article.
std::u32string remove_articles(const std::u32string& text) {
    std::u32string out;
    size_t i = 0;
    while (i < text.size()) {
        if (!py::is_word_char(text[i])) {
            out.push_back(text[i++]);
            continue;
        }
        size_t start = i;
        while (i < text.size() && py::is_word_char(text[i])) ++i;
        std::u32string_view word(text.data() + start, i - start);
        if (word == U"a" || word == U"an" || word == U"the")
            out.push_back(U' ');
        else
            out.append(word);
    }
    return out;
}

std::vector<std::string> normalized_tokens(std::string_view answer) {
    return py::split(std::string_view(squad_normalize_answer(answer)));
}

}  // namespace

std::string squad_normalize_answer(std::string_view answer) {
    std::u32string lowered = py::lower(py::decode(answer));
    std::u32string no_punct;
    for (char32_t c : lowered)
        if (!is_string_punctuation(c)) no_punct.push_back(c);
    std::string out;
    for (auto& token : py::split(remove_articles(no_punct))) {
        if (!out.empty()) out.push_back(' ');
        out += py::encode(token);
    }
    return out;
}

bool squad_exact_match(std::string_view prediction, std::string_view ground_truth) {
    return squad_normalize_answer(prediction) == squad_normalize_answer(ground_truth);
}

double squad_f1(std::string_view prediction, std::string_view ground_truth) {
    auto pred = normalized_tokens(prediction), truth = normalized_tokens(ground_truth);
    std::unordered_map<std::string, int64_t> truth_counts;
    for (auto& t : truth) ++truth_counts[t];
    int64_t same = 0;
    for (auto& t : pred) {
        auto it = truth_counts.find(t);
        if (it != truth_counts.end() && it->second > 0) {
            ++same;
            --it->second;
        }
    }
    if (same == 0) return 0.0;
    const double precision = static_cast<double>(same) / static_cast<double>(pred.size());
    const double recall = static_cast<double>(same) / static_cast<double>(truth.size());
    return 2 * precision * recall / (precision + recall);
}

SquadAnswerScore squad_score(std::string_view prediction, const std::vector<std::string>& ground_truths) {
    if (ground_truths.empty()) fail("SQuAD: a question has no ground-truth answers");
    SquadAnswerScore best{0.0, 0.0};
    bool first = true;
    for (const auto& truth : ground_truths) {
        double em = squad_exact_match(prediction, truth) ? 1.0 : 0.0, f1 = squad_f1(prediction, truth);
        best.exact_match = first ? em : std::max(best.exact_match, em);
        best.f1 = first ? f1 : std::max(best.f1, f1);
        first = false;
    }
    return best;
}

SquadDataset parse_squad_dataset(std::string_view json_text, const std::string& source_name) {
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::exception& e) {
        fail("{}: not valid JSON: {}", source_name, e.what());
    }
    auto field = [&](const nlohmann::json& obj, const char* key, const std::string& where) -> const nlohmann::json& {
        if (!obj.is_object() || !obj.contains(key)) fail("{}: {} has no field '{}'", source_name, where, key);
        return obj[key];
    };
    auto text = [&](const nlohmann::json& obj, const char* key, const std::string& where) {
        const auto& v = field(obj, key, where);
        if (!v.is_string()) fail("{}: field '{}' of {} is not a string", source_name, key, where);
        return v.get<std::string>();
    };
    SquadDataset ds;
    if (root.is_object() && root.contains("version")) {
        const auto& v = root["version"];
        ds.version = v.is_string() ? v.get<std::string>() : v.dump();
    }
    const auto& data = field(root, "data", "the top level");
    if (!data.is_array()) fail("{}: field 'data' is not a list of articles", source_name);
    for (size_t a = 0; a < data.size(); ++a) {
        std::string where = "data[" + std::to_string(a) + "]";
        std::string title = data[a].contains("title") && data[a]["title"].is_string() ? data[a]["title"].get<std::string>() : "";
        const auto& paragraphs = field(data[a], "paragraphs", where);
        if (!paragraphs.is_array()) fail("{}: {}.paragraphs is not a list", source_name, where);
        for (size_t p = 0; p < paragraphs.size(); ++p) {
            std::string pwhere = where + ".paragraphs[" + std::to_string(p) + "]";
            std::string context = text(paragraphs[p], "context", pwhere);
            const auto& qas = field(paragraphs[p], "qas", pwhere);
            if (!qas.is_array()) fail("{}: {}.qas is not a list", source_name, pwhere);
            for (size_t q = 0; q < qas.size(); ++q) {
                std::string qwhere = pwhere + ".qas[" + std::to_string(q) + "]";
                SquadQuestion question{text(qas[q], "id", qwhere), title, context, text(qas[q], "question", qwhere), {}};
                const auto& answers = field(qas[q], "answers", qwhere);
                if (!answers.is_array()) fail("{}: {}.answers is not a list", source_name, qwhere);
                for (size_t k = 0; k < answers.size(); ++k)
                    question.answers.push_back(text(answers[k], "text", qwhere + ".answers[" + std::to_string(k) + "]"));
                ds.questions.push_back(std::move(question));
            }
        }
    }
    return ds;
}

SquadDataset load_squad_dataset(const std::string& path) { return parse_squad_dataset(read_text_file(path), path); }

std::unordered_map<std::string, std::string> load_squad_predictions(const std::string& path) {
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(read_text_file(path));
    } catch (const nlohmann::json::exception& e) {
        fail("{}: not valid JSON: {}", path, e.what());
    }
    if (!root.is_object()) fail("{}: predictions must be a JSON object {{\"question id\": \"answer\", ...}}", path);
    std::unordered_map<std::string, std::string> out;
    for (auto& [id, answer] : root.items()) {
        if (!answer.is_string()) fail("{}: the prediction for question '{}' is not a string", path, id);
        out[id] = answer.get<std::string>();
    }
    return out;
}

SquadResult evaluate_squad(const SquadDataset& dataset, const std::unordered_map<std::string, std::string>& predictions) {
    SquadResult r;
    double em_sum = 0, f1_sum = 0;
    for (const auto& q : dataset.questions) {
        ++r.total;
        auto it = predictions.find(q.id);
        if (it == predictions.end()) {
            r.unanswered.push_back(q.id);
            continue;
        }
        SquadAnswerScore s = squad_score(it->second, q.answers);
        em_sum += s.exact_match;
        f1_sum += s.f1;
    }
    if (r.total == 0) fail("SQuAD: the dataset has no questions");
    r.exact_match = 100.0 * em_sum / static_cast<double>(r.total);
    r.f1 = 100.0 * f1_sum / static_cast<double>(r.total);
    return r;
}

}  // namespace slm::eval
