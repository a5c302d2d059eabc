// Decoder stages; each rewrites the list of token strings the way Hugging Face's does.
#include "tokenizer/decoders.h"

#include "tokenizer/normalizers.h"
#include "tokenizer/unicode_text.h"

namespace slm::tok {

void ByteLevelDecoder::decode_chain(std::vector<std::string>& tokens) const {
    std::string bytes;
    for (const auto& t : tokens) bytes += bytes_from_byte_level(t);
    tokens.assign(1, repair_utf8(bytes));
}

void MetaspaceDecoder::decode_chain(std::vector<std::string>& tokens) const {
    for (size_t i = 0; i < tokens.size(); ++i) {
        std::string t = replace_all(tokens[i], replacement, nullptr, " ");
        if (i == 0 && prepend != PrependScheme::never && !t.empty() && t[0] == ' ') t.erase(0, 1);
        tokens[i] = std::move(t);
    }
}

std::string clean_up_tokenization(std::string text) {
    static const std::pair<const char*, const char*> rules[] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
    };
    for (auto [from, to] : rules) text = replace_all(text, from, nullptr, to);
    return text;
}

void WordPieceDecoder::decode_chain(std::vector<std::string>& tokens) const {
    for (size_t i = 0; i < tokens.size(); ++i) {
        std::string& t = tokens[i];
        if (i != 0) {
            if (t.starts_with(prefix))
                t.erase(0, prefix.size());
            else
                t.insert(0, 1, ' ');
        }
        if (cleanup) t = clean_up_tokenization(std::move(t));
    }
}

void ReplaceDecoder::decode_chain(std::vector<std::string>& tokens) const {
    for (auto& t : tokens) t = replace_all(t, pattern, regex.get(), content);
}

static int parse_byte_token(const std::string& t) {
    // Exactly "<0xXX>" with two hex digits.
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

void ByteFallbackDecoder::decode_chain(std::vector<std::string>& tokens) const {
    std::vector<std::string> out;
    std::string pending;
    size_t pending_count = 0;
    auto flush = [&] {
        if (pending_count == 0) return;
        if (is_valid_utf8(pending)) {
            out.push_back(pending);
        } else {
            for (size_t i = 0; i < pending_count; ++i) out.emplace_back("\xEF\xBF\xBD");  // one U+FFFD per byte
        }
        pending.clear();
        pending_count = 0;
    };
    for (auto& t : tokens) {
        int b = parse_byte_token(t);
        if (b >= 0) {
            pending += static_cast<char>(b);
            ++pending_count;
        } else {
            flush();
            out.push_back(std::move(t));
        }
    }
    flush();
    tokens = std::move(out);
}

void FuseDecoder::decode_chain(std::vector<std::string>& tokens) const {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
}

void StripDecoder::decode_chain(std::vector<std::string>& tokens) const {
    if (content.empty()) return;
    for (auto& t : tokens) {
        size_t cut = 0;
        for (size_t i = 0; i < start && t.compare(cut, content.size(), content) == 0; ++i) cut += content.size();
        t.erase(0, cut);
        for (size_t i = 0; i < stop && t.size() >= content.size() &&
                           t.compare(t.size() - content.size(), content.size(), content) == 0;
             ++i)
            t.erase(t.size() - content.size());
    }
}

void BpeSuffixDecoder::decode_chain(std::vector<std::string>& tokens) const {
    for (size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = replace_all(tokens[i], suffix, nullptr, i + 1 == tokens.size() ? "" : " ");
}

}  // namespace slm::tok
