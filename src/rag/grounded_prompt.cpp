// Grounded prompt and citation mapping. Passages go in the user turn rather than a system
// message: several chat templates (Gemma's) refuse a system role, and every template has a user.
#include <fmt/format.h>
#include <slm/grounded_prompt.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace slm::rag {

std::string source_label(const Passage& p) {
    std::string path = p.path;
    std::error_code ec;
    const auto cwd = std::filesystem::current_path(ec);
    if (!ec) {
        const auto rel = std::filesystem::path(p.path).lexically_relative(cwd);
        if (!rel.empty() && rel.native().rfind("..", 0) != 0) path = rel.string();
    }
    const std::string lines =
        p.line_begin == p.line_end ? fmt::format("{}", p.line_begin) : fmt::format("{}-{}", p.line_begin, p.line_end);
    if (p.page > 0) return fmt::format("{} p.{}:{}", path, p.page, lines);
    return fmt::format("{}:{}", path, lines);
}

nlohmann::ordered_json grounded_messages(const nlohmann::ordered_json& history, std::string_view question,
                                         std::span<const Passage> passages) {
    std::string content =
        "Answer the question using only the numbered passages below. Cite the passages you use with their "
        "numbers in square brackets, like [1] or [2][3]. If the passages do not contain the answer, say so.\n\n";
    for (size_t i = 0; i < passages.size(); ++i)
        content += fmt::format("[{}] ({})\n{}\n\n", i + 1, source_label(passages[i]), passages[i].text);
    content += fmt::format("Question: {}", question);
    nlohmann::ordered_json messages = history.is_array() ? history : nlohmann::ordered_json::array();
    messages.push_back({{"role", "user"}, {"content", content}});
    return messages;
}

FittedConversation fit_grounded_messages(const nlohmann::ordered_json& history, std::string_view question,
                                         std::vector<Passage> passages,
                                         const std::function<bool(const nlohmann::ordered_json& messages)>& fits) {
    FittedConversation out;
    while (true) {
        out.messages = grounded_messages(history, question, passages);
        out.fits = fits(out.messages);
        if (out.fits || passages.empty()) break;
        passages.pop_back();
    }
    out.passages = std::move(passages);
    return out;
}

std::vector<Citation> cited_passages(std::string_view answer, std::span<const Passage> passages) {
    std::vector<Citation> out;
    auto add = [&](int number) {
        if (number < 1 || size_t(number) > passages.size()) return;
        if (std::any_of(out.begin(), out.end(), [&](const Citation& c) { return c.number == number; })) return;
        out.push_back({number, size_t(number - 1), source_label(passages[size_t(number - 1)])});
    };
    // A bracket holds numbers separated by commas or spaces: [1], [2, 3]; anything else ([a], [1.5]) is not a citation.
    for (size_t open = answer.find('['); open != std::string_view::npos; open = answer.find('[', open + 1)) {
        const size_t close = answer.find(']', open);
        if (close == std::string_view::npos) break;
        const std::string_view inside = answer.substr(open + 1, close - open - 1);
        std::vector<int> numbers;
        bool valid = !inside.empty();
        int value = -1;
        for (char c : inside) {
            if (std::isdigit(static_cast<unsigned char>(c))) {
                value = (value < 0 ? 0 : value) * 10 + (c - '0');
                if (value > 100000) valid = false;
            } else if (c == ',' || c == ' ') {
                if (value >= 0) numbers.push_back(value);
                value = -1;
            } else {
                valid = false;
            }
        }
        if (value >= 0) numbers.push_back(value);
        if (!valid || numbers.empty()) continue;
        for (int n : numbers) add(n);
    }
    return out;
}

}  // namespace slm::rag
