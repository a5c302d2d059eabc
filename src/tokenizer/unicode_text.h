// UTF-8 and Unicode helpers the tokenizer stages share: code point decoding, invalid-byte repair,
// GPT-2's byte <-> printable-character map, and utf8proc-backed normalization and categories.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace slm::tok {

// Decodes one code point at s[pos]; advances pos. Invalid or truncated sequences yield
// U+FFFD and consume one byte.
char32_t next_code_point(std::string_view s, size_t& pos);
void append_utf8(std::string& out, char32_t cp);
// Length in bytes of the UTF-8 sequence that starts with byte b (1 for invalid lead bytes).
size_t utf8_sequence_length(uint8_t b);
// The text with every invalid UTF-8 sequence replaced by U+FFFD (as Python's errors="replace").
std::string repair_utf8(std::string_view s);
bool is_valid_utf8(std::string_view s);
// Bytes of s that end in a complete code point: the length of the longest such prefix.
size_t complete_utf8_prefix(std::string_view s);

// GPT-2 byte-level alphabet: every byte as a printable code point, and back.
const std::string& byte_to_unicode(uint8_t b);  // the UTF-8 of the mapped character
// Undoes the mapping over a whole string; characters outside the alphabet are kept as UTF-8.
std::string bytes_from_byte_level(std::string_view s);
std::string byte_level_encode(std::string_view s);

enum class NormalForm { nfc, nfd, nfkc, nfkd };
std::string normalize_unicode(std::string_view s, NormalForm form);
std::string to_lower(std::string_view s);
char32_t lower_code_point(char32_t cp);
bool is_whitespace(char32_t cp);    // Unicode White_Space (as Rust's char::is_whitespace)
bool is_punctuation(char32_t cp);   // general category P*
bool is_control(char32_t cp);       // category Cc/Cf/Co/Cn … as BERT's _is_control
bool is_nonspacing_mark(char32_t cp);  // Mn (BERT's accent test)
bool is_mark(char32_t cp);             // Mn, Mc, Me (HF StripAccents' is_combining_mark)
bool is_chinese_char(char32_t cp);  // CJK ideograph blocks as BERT defines them
bool is_alphanumeric(char32_t cp);  // letters, marks, numbers, connector '_' (regex \w)
bool is_numeric(char32_t cp);       // categories Nd, Nl, No (Rust char::is_numeric)

}  // namespace slm::tok
