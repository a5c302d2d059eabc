// Python str operations on UTF-8 text: code points for len/index/slice, Unicode case mapping and
// whitespace, and the str methods chat templates call (strip, split, replace, title, …).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace slm::jinja::text {

std::vector<char32_t> decode(const std::string& s);  // invalid bytes decode as U+FFFD
std::string encode(const std::vector<char32_t>& cps);
void append(std::string& out, char32_t cp);
int64_t length(const std::string& s);  // in code points

bool is_space(char32_t c);  // str.isspace
bool is_alnum(char32_t c);
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);

std::string upper(const std::string& s);
std::string lower(const std::string& s);
std::string capitalize(const std::string& s);     // str.capitalize
std::string title_method(const std::string& s);   // str.title
std::string title_filter(const std::string& s);   // jinja2's |title (words split at [-\s({[<])

// strip/lstrip/rstrip; `chars` absent: Unicode whitespace.
std::string strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right);
// str.split: `sep` absent splits on whitespace runs; maxsplit < 0: no limit.
std::vector<std::string> split(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> splitlines(const std::string& s);
// str.replace; count < 0: all.
std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count);
int64_t count(const std::string& s, const std::string& sub);
int64_t find(const std::string& s, const std::string& sub);  // in code points; -1 when absent

}  // namespace slm::jinja::text
