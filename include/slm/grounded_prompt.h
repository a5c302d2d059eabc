// Grounded prompting: retrieved passages numbered into the user's turn so the model answers from
// them and cites them as [1], [2]; and the way back, from the citations in an answer to the files,
// pages and lines they stand for.
#pragma once

#include <slm/rag.h>

#include <nlohmann/json_fwd.hpp>
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

struct Citation {
    int number = 0;      // as written in the answer: [number]
    size_t passage = 0;  // index into the passages
    std::string label;   // source_label of that passage
};

// The passages an answer cites ([1], [2, 3], [1][4]), each once, in order of first mention;
// numbers outside 1..passages.size() are ignored.
std::vector<Citation> cited_passages(std::string_view answer, std::span<const Passage> passages);

}  // namespace slm::rag
