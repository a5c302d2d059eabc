// Python str operations on UTF-8 text (see text.h). Case mapping comes from utf8proc's simple
// mappings, which match CPython's for every character outside a few multi-character expansions.
#include "template/text.h"

#include <utf8proc.h>

#include <algorithm>

namespace slm::jinja::text {

std::vector<char32_t> decode(const std::string& s) {
    std::vector<char32_t> out;
    out.reserve(s.size());
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {
            cp = 0xFFFD;
            n = 1;
        }
        out.push_back(static_cast<char32_t>(cp));
        p += n;
        left -= n;
    }
    return out;
}

void append(std::string& out, char32_t cp) {
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

std::string encode(const std::vector<char32_t>& cps) {
    std::string out;
    out.reserve(cps.size());
    for (char32_t c : cps) append(out, c);
    return out;
}

int64_t length(const std::string& s) {
    int64_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

bool is_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_alnum(char32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
           (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

static bool is_cased(char32_t c) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

char32_t to_upper(char32_t c) { return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))); }
char32_t to_lower(char32_t c) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))); }
static char32_t to_title(char32_t c) {
    return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
}

template <typename Map>
static std::string map_chars(const std::string& s, Map map) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : decode(s)) append(out, map(c));
    return out;
}

std::string upper(const std::string& s) { return map_chars(s, to_upper); }
std::string lower(const std::string& s) { return map_chars(s, to_lower); }

std::string capitalize(const std::string& s) {
    auto cps = decode(s);
    for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? to_title(cps[i]) : to_lower(cps[i]);
    return encode(cps);
}

std::string title_method(const std::string& s) {
    auto cps = decode(s);
    bool previous_cased = false;
    for (auto& c : cps) {
        c = previous_cased ? to_lower(c) : to_title(c);
        previous_cased = is_cased(c);
    }
    return encode(cps);
}

std::string title_filter(const std::string& s) {
    // jinja2: every item of re.split(r"([-\s({\[<]+)", s) becomes item[0].upper() + item[1:].lower().
    auto is_delimiter = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space(c); };
    auto cps = decode(s);
    bool item_start = true;
    for (size_t i = 0; i < cps.size(); ++i) {
        bool delim = is_delimiter(cps[i]);
        if (i > 0 && delim != is_delimiter(cps[i - 1])) item_start = true;
        cps[i] = item_start ? to_upper(cps[i]) : to_lower(cps[i]);
        item_start = false;
    }
    return encode(cps);
}

std::string strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right) {
    auto cps = decode(s);
    std::vector<char32_t> set;
    if (chars) set = decode(*chars);
    auto strippable = [&](char32_t c) {
        return chars ? std::find(set.begin(), set.end(), c) != set.end() : is_space(c);
    };
    size_t begin = 0, end = cps.size();
    if (left)
        while (begin < end && strippable(cps[begin])) ++begin;
    if (right)
        while (end > begin && strippable(cps[end - 1])) --end;
    return encode(std::vector<char32_t>(cps.begin() + static_cast<long>(begin), cps.begin() + static_cast<long>(end)));
}

std::vector<std::string> split(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit) {
    std::vector<std::string> out;
    if (sep) {
        size_t start = 0;
        while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
            size_t at = s.find(*sep, start);
            if (at == std::string::npos) break;
            out.push_back(s.substr(start, at - start));
            start = at + sep->size();
        }
        out.push_back(s.substr(start));
        return out;
    }
    auto cps = decode(s);
    size_t i = 0;
    while (true) {
        while (i < cps.size() && is_space(cps[i])) ++i;
        if (i == cps.size()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
            size_t end = cps.size();
            while (end > i && is_space(cps[end - 1])) --end;
            out.push_back(encode(std::vector<char32_t>(cps.begin() + static_cast<long>(i), cps.begin() + static_cast<long>(end))));
            break;
        }
        size_t j = i;
        while (j < cps.size() && !is_space(cps[j])) ++j;
        out.push_back(encode(std::vector<char32_t>(cps.begin() + static_cast<long>(i), cps.begin() + static_cast<long>(j))));
        i = j;
    }
    return out;
}

std::vector<std::string> splitlines(const std::string& s) {
    auto cps = decode(s);
    std::vector<std::string> out;
    std::vector<char32_t> line;
    for (size_t i = 0; i < cps.size(); ++i) {
        char32_t c = cps[i];
        bool breaks = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
                      c == 0x2028 || c == 0x2029;
        if (!breaks) {
            line.push_back(c);
            continue;
        }
        if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
        out.push_back(encode(line));
        line.clear();
    }
    if (!line.empty()) out.push_back(encode(line));
    return out;
}

std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
    std::string out;
    int64_t done = 0;
    if (from.empty()) {  // Python inserts `to` before every character and at the end
        auto cps = decode(s);
        for (char32_t c : cps) {
            if (count < 0 || done < count) {
                out += to;
                ++done;
            }
            append(out, c);
        }
        if (count < 0 || done < count) out += to;
        return out;
    }
    size_t start = 0;
    while (count < 0 || done < count) {
        size_t at = s.find(from, start);
        if (at == std::string::npos) break;
        out.append(s, start, at - start);
        out += to;
        start = at + from.size();
        ++done;
    }
    out.append(s, start);
    return out;
}

int64_t count(const std::string& s, const std::string& sub) {
    if (sub.empty()) return length(s) + 1;
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return n;
}

int64_t find(const std::string& s, const std::string& sub) {
    size_t at = s.find(sub);
    return at == std::string::npos ? -1 : length(s.substr(0, at));
}

}  // namespace slm::jinja::text
