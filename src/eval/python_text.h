// Python's own string semantics, which the reference metric scripts depend on: str.lower() (full
// case mapping with final sigma), str.isspace()/str.split(), and the Unicode classes of `re`/`regex`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace slm::eval::py {

// UTF-8 to code points; a malformed byte becomes U+FFFD (as Python's errors="replace").
std::u32string decode(std::string_view utf8);
std::string encode(std::u32string_view text);
void append_utf8(std::string& out, char32_t c);

bool is_space(char32_t c);        // str.isspace()
bool is_word_char(char32_t c);    // `re` \w on str: alphanumeric (Unicode) or '_'
bool is_number(char32_t c);       // \p{N}
bool is_punctuation(char32_t c);  // \p{P}
bool is_symbol(char32_t c);       // \p{S}

std::u32string lower(std::u32string_view text);  // str.lower()
std::string lower(std::string_view utf8);

std::u32string strip(std::u32string_view text);   // str.strip()
std::u32string rstrip(std::u32string_view text);  // str.rstrip()
std::vector<std::u32string> split(std::u32string_view text);  // str.split()
std::vector<std::string> split(std::string_view utf8);         // str.split(), UTF-8 pieces

}  // namespace slm::eval::py
