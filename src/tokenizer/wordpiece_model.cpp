// WordPiece: greedy longest-match-first over a word (BERT). Hugging Face marks continuations
// with "##"; llama.cpp's GGUF vocabularies mark word starts with "▁" instead.
#include "tokenizer/models.h"
#include "tokenizer/unicode_text.h"

namespace slm::tok {

void WordPieceModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    size_t chars = 0;
    for (size_t pos = 0; pos < word.size(); ++chars) next_code_point(word, pos);
    if (chars > max_input_chars_per_word) {
        out.push_back(unk);
        return;
    }
    const size_t first = out.size();
    std::string candidate;
    size_t start = 0;
    while (start < word.size()) {
        size_t end = word.size();
        bool found = false;
        while (end > start) {
            candidate = start == 0 ? word_prefix : continuing_prefix;
            candidate.append(word.substr(start, end - start));
            if (auto id = vocab.find(candidate)) {
                out.push_back(*id);
                found = true;
                break;
            }
            // Step back one whole character.
            do --end;
            while (end > start && (static_cast<uint8_t>(word[end]) & 0xC0) == 0x80);
        }
        if (!found) {
            out.resize(first);
            out.push_back(unk);
            return;
        }
        start = end;
    }
}

}  // namespace slm::tok
