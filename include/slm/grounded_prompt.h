// Grounded prompting: retrieved passages numbered into the user's turn so the model answers from
// them and cites them as [1], [2]; and the way back, from the citations in an answer to the files,
// pages and lines they stand for.
#pragma once

#include <slm/rag.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slm::rag {

// "docs/serving.md:12-30", or "manual.pdf p.3:4-10"; the path relative to the working directory
// when it lies under it.
std::string source_label(const Passage& passage);

// The conversation so far (`history`: {role, content} messages, earlier questions and answers)
// followed by one user message that numbers the passages and asks the question; rendered through
// the model's own chat template by the caller.
nlohmann::ordered_json grounded_messages(const nlohmann::ordered_json& history, std::string_view question,
                                         std::span<const Passage> passages);

// grounded_messages with as many passages as fit: `fits` renders and measures a candidate
// conversation (through the model's chat template, with room for the answer) and says whether it
// fits; passages are dropped from the end until it does. `slm rag query|chat` and `slm serve
// --rag` build their prompts through this one function.
struct FittedConversation {
    nlohmann::ordered_json messages;  // the last candidate `fits` saw
    std::vector<Passage> passages;    // those in it, numbered 1..n
    bool fits = false;                // false: even without passages it does not fit
};
FittedConversation fit_grounded_messages(const nlohmann::ordered_json& history, std::string_view question,
                                         std::vector<Passage> passages,
                                         const std::function<bool(const nlohmann::ordered_json& messages)>& fits);

struct Citation {
    int number = 0;      // as written in the answer: [number]
    size_t passage = 0;  // index into the passages
    std::string label;   // source_label of that passage
};

// The passages an answer cites ([1], [2, 3], [1][4]), each once, in order of first mention;
// numbers outside 1..passages.size() are ignored.
std::vector<Citation> cited_passages(std::string_view answer, std::span<const Passage> passages);

}  // namespace slm::rag
