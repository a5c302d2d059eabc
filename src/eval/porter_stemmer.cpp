// NLTK's PorterStemmer (mode NLTK_EXTENSIONS, the one rouge-score uses): Porter's five steps with
// Martin Porter's later changes and NLTK's additions (irregular forms, -ies/-ied on short words,
// the y->i rule, -alli, -fulli, -logi, the two-letter *o condition).
#include <slm/eval/rouge.h>

#include <array>
#include <functional>
#include <utility>

namespace slm::eval {
namespace {

bool is_consonant(const std::string& w, size_t i) {
    switch (w[i]) {
        case 'a': case 'e': case 'i': case 'o': case 'u': return false;
        case 'y': return i == 0 ? true : !is_consonant(w, i - 1);
        default: return true;
    }
}

// The m of [C](VC){m}[V].
int measure(const std::string& stem) {
    int m = 0;
    for (size_t i = 1; i < stem.size(); ++i)
        if (!is_consonant(stem, i - 1) && is_consonant(stem, i)) ++m;
    return m;
}

bool contains_vowel(const std::string& stem) {
    for (size_t i = 0; i < stem.size(); ++i)
        if (!is_consonant(stem, i)) return true;
    return false;
}

bool ends_double_consonant(const std::string& w) {
    size_t n = w.size();
    return n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1);
}

// *o: ends consonant-vowel-consonant, the last not w, x or y; NLTK also accepts a two-letter vowel-consonant word.
bool ends_cvc(const std::string& w) {
    size_t n = w.size();
    if (n >= 3 && is_consonant(w, n - 3) && !is_consonant(w, n - 2) && is_consonant(w, n - 1) && w[n - 1] != 'w' &&
        w[n - 1] != 'x' && w[n - 1] != 'y')
        return true;
    return n == 2 && !is_consonant(w, 0) && is_consonant(w, 1);
}

bool ends_with(const std::string& w, std::string_view suffix) {
    return w.size() >= suffix.size() && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string drop(const std::string& w, size_t n) { return w.substr(0, w.size() - n); }

using Condition = std::function<bool(const std::string&)>;

struct Rule {
    std::string_view suffix;  // "*d" means: ends in a double consonant
    std::string replacement;
    Condition condition;      // empty: unconditional
};

// The first rule whose suffix matches decides: it applies if its condition holds, else the word stays.
std::string apply_rules(const std::string& word, const std::vector<Rule>& rules) {
    for (const Rule& rule : rules) {
        if (rule.suffix == "*d" && ends_double_consonant(word)) {
            std::string stem = drop(word, 2);
            return !rule.condition || rule.condition(stem) ? stem + rule.replacement : word;
        }
        if (ends_with(word, rule.suffix)) {
            std::string stem = drop(word, rule.suffix.size());
            return !rule.condition || rule.condition(stem) ? stem + rule.replacement : word;
        }
    }
    return word;
}

bool positive_measure(const std::string& stem) { return measure(stem) > 0; }
bool measure_above_one(const std::string& stem) { return measure(stem) > 1; }

std::string step1a(const std::string& w) {
    if (ends_with(w, "ies") && w.size() == 4) return drop(w, 3) + "ie";
    return apply_rules(w, {{"sses", "ss", {}}, {"ies", "i", {}}, {"ss", "ss", {}}, {"s", "", {}}});
}

std::string step1b(const std::string& w) {
    if (ends_with(w, "ied")) return drop(w, 3) + (w.size() == 4 ? "ie" : "i");
    if (ends_with(w, "eed")) {
        std::string stem = drop(w, 3);
        return measure(stem) > 0 ? stem + "ee" : w;
    }
    std::string stem;
    bool removed = false;
    for (std::string_view suffix : {std::string_view("ed"), std::string_view("ing")}) {
        if (ends_with(w, suffix)) {
            stem = drop(w, suffix.size());
            if (contains_vowel(stem)) {
                removed = true;
                break;
            }
        }
    }
    if (!removed) return w;
    const char last = stem.back();
    return apply_rules(stem, {{"at", "ate", {}},
                              {"bl", "ble", {}},
                              {"iz", "ize", {}},
                              {"*d", std::string(1, last), [last](const std::string&) {
                                   return last != 'l' && last != 's' && last != 'z';
                               }},
                              {"", "e", [](const std::string& s) { return measure(s) == 1 && ends_cvc(s); }}});
}

std::string step1c(const std::string& w) {
    return apply_rules(w, {{"y", "i", [](const std::string& s) {
                                return s.size() > 1 && is_consonant(s, s.size() - 1);
                            }}});
}

std::string step2(const std::string& w) {
    if (ends_with(w, "alli") && positive_measure(drop(w, 4))) return step2(drop(w, 4) + "al");
    static const std::array<std::pair<std::string_view, std::string_view>, 22> kPairs = {{
        {"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"}, {"izer", "ize"},
        {"bli", "ble"}, {"alli", "al"}, {"entli", "ent"}, {"eli", "e"}, {"ousli", "ous"},
        {"ization", "ize"}, {"ation", "ate"}, {"ator", "ate"}, {"alism", "al"}, {"iveness", "ive"},
        {"fulness", "ful"}, {"ousness", "ous"}, {"aliti", "al"}, {"iviti", "ive"}, {"biliti", "ble"},
        {"fulli", "ful"}, {"logi", "log"},
    }};
    std::vector<Rule> rules;
    for (auto [suffix, replacement] : kPairs) rules.push_back({suffix, std::string(replacement), positive_measure});
    // NLTK measures -logi on the word less "ogi" (the "l" stays in the stem it measures).
    rules.back().condition = [&w](const std::string&) { return positive_measure(drop(w, 3)); };
    return apply_rules(w, rules);
}

std::string step3(const std::string& w) {
    return apply_rules(w, {{"icate", "ic", positive_measure}, {"ative", "", positive_measure},
                           {"alize", "al", positive_measure}, {"iciti", "ic", positive_measure},
                           {"ical", "ic", positive_measure}, {"ful", "", positive_measure},
                           {"ness", "", positive_measure}});
}

std::string step4(const std::string& w) {
    std::vector<Rule> rules;
    for (std::string_view suffix : {"al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
                                    "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize"})
        rules.push_back({suffix, "", measure_above_one});
    rules[11].condition = [](const std::string& s) {
        return measure(s) > 1 && (s.back() == 's' || s.back() == 't');
    };
    return apply_rules(w, rules);
}

std::string step5a(const std::string& w) {
    if (ends_with(w, "e")) {
        std::string stem = drop(w, 1);
        if (measure(stem) > 1) return stem;
        if (measure(stem) == 1 && !ends_cvc(stem)) return stem;
    }
    return w;
}

std::string step5b(const std::string& w) {
    return apply_rules(w, {{"ll", "l", [&w](const std::string&) { return measure(drop(w, 1)) > 1; }}});
}

// NLTK's irregular forms, looked up before any rule.
const std::array<std::pair<std::string_view, std::string_view>, 16> kIrregular = {{
    {"sky", "sky"}, {"skies", "sky"}, {"dying", "die"}, {"lying", "lie"}, {"tying", "tie"},
    {"news", "news"}, {"innings", "inning"}, {"inning", "inning"}, {"outings", "outing"},
    {"outing", "outing"}, {"cannings", "canning"}, {"canning", "canning"}, {"howe", "howe"},
    {"proceed", "proceed"}, {"exceed", "exceed"}, {"succeed", "succeed"},
}};

}  // namespace

std::string porter_stem(std::string_view word) {
    for (auto [form, stem] : kIrregular)
        if (form == word) return std::string(stem);
    std::string w(word);
    if (w.size() <= 2) return w;
    w = step1a(w);
    w = step1b(w);
    w = step1c(w);
    w = step2(w);
    w = step3(w);
    w = step4(w);
    w = step5a(w);
    w = step5b(w);
    return w;
}

}  // namespace slm::eval
