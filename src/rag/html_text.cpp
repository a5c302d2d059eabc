// html_to_text: a small tag scanner (not a full HTML parser) that keeps what a reader sees and the
// heading structure the chunker prefers to split on.
#include <array>
#include <cctype>
#include <cstdint>
#include <string>

#include "rag/document.h"

namespace slm::rag {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

// Decodes the character reference starting at s[i] == '&'; returns the bytes consumed (0: none).
size_t decode_reference(std::string_view s, size_t i, std::string& out) {
    const size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) return 0;
    const std::string_view name = s.substr(i + 1, semi - i - 1);
    if (!name.empty() && name[0] == '#') {
        const bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
        const std::string digits(name.substr(hex ? 2 : 1));
        if (digits.empty()) return 0;
        char* end = nullptr;
        const unsigned long cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
        if (*end != '\0') return 0;
        append_utf8(out, uint32_t(cp));
        return semi - i + 1;
    }
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 8> named = {{
        {"amp", "&"},
        {"lt", "<"},
        {"gt", ">"},
        {"quot", "\""},
        {"apos", "'"},
        {"nbsp", " "},
        {"mdash", "\u2014"},
        {"ndash", "\u2013"},
    }};
    for (const auto& [key, value] : named)
        if (name == key) {
            out += value;
            return semi - i + 1;
        }
    return 0;
}

bool is_block(const std::string& tag) {
    static constexpr std::array<std::string_view, 22> blocks = {
        "p",      "div",        "br",  "li", "ul", "ol", "tr", "table", "section", "article", "header",
        "footer", "blockquote", "pre", "hr", "dt", "dd", "dl", "nav",   "aside",   "main",    "title"};
    for (auto b : blocks)
        if (tag == b) return true;
    return false;
}

}  // namespace

std::string html_to_text(std::string_view html) {
    std::string out;
    bool in_pre = false;
    auto end_line = [&](int blank_lines) {
        while (!out.empty() && out.back() == ' ') out.pop_back();
        int have = 0;
        for (size_t k = out.size(); k > 0 && out[k - 1] == '\n'; --k) ++have;
        if (out.empty()) return;
        for (; have < blank_lines + 1; ++have) out += '\n';
    };
    size_t i = 0;
    while (i < html.size()) {
        const char c = html[i];
        if (c == '<') {
            if (html.compare(i, 4, "<!--") == 0) {
                const size_t end = html.find("-->", i + 4);
                i = end == std::string_view::npos ? html.size() : end + 3;
                continue;
            }
            const size_t close = html.find('>', i);
            if (close == std::string_view::npos) break;
            std::string_view inside = html.substr(i + 1, close - i - 1);
            const bool closing = !inside.empty() && inside[0] == '/';
            if (closing) inside.remove_prefix(1);
            size_t name_end = 0;
            while (name_end < inside.size() && (std::isalnum(static_cast<unsigned char>(inside[name_end])))) ++name_end;
            const std::string tag = lower(inside.substr(0, name_end));
            i = close + 1;
            if (!closing && (tag == "script" || tag == "style" || tag == "head" || tag == "noscript")) {
                const std::string lowered = lower(html.substr(i));
                const size_t end = lowered.find("</" + tag);
                if (end == std::string::npos) return out;
                const size_t gt = html.find('>', i + end);
                i = gt == std::string_view::npos ? html.size() : gt + 1;
                continue;
            }
            if (tag.size() == 2 && tag[0] == 'h' && tag[1] >= '1' && tag[1] <= '6') {
                end_line(1);
                if (!closing) out += std::string(size_t(tag[1] - '0'), '#') + ' ';
                continue;
            }
            if (tag == "pre") in_pre = !closing;
            if (tag == "br")
                end_line(0);
            else if (is_block(tag))
                end_line(tag == "p" || tag == "table" || tag == "pre" ? 1 : 0);
            else if (tag == "td" || tag == "th")
                out += ' ';
            continue;
        }
        if (c == '&') {
            if (const size_t used = decode_reference(html, i, out)) {
                i += used;
                continue;
            }
        }
        if (!in_pre && std::isspace(static_cast<unsigned char>(c))) {
            if (!out.empty() && out.back() != ' ' && out.back() != '\n') out += ' ';
        } else {
            out += c;
        }
        ++i;
    }
    end_line(0);
    return out;
}

}  // namespace slm::rag
