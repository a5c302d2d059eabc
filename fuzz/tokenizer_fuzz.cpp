// libFuzzer target for the tokenizer: the first byte picks a mode. Mode 0 loads the rest as
// tokenizer.json (errors must be slm::Error, never a crash) and runs encode/decode with it;
// otherwise the rest is text for a byte-level BPE tokenizer, where decode(encode(x)) must give x
// back (after invalid UTF-8 is replaced, as the reference does).
#include <slm/error.h>
#include <slm/tokenizer.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "tokenizer/unicode_text.h"

namespace {

// Byte-level BPE over all 256 byte characters plus a few merges and two added tokens.
std::unique_ptr<slm::Tokenizer> make_byte_level_tokenizer() {
    std::string vocab, merges = "\"\\u0120 t\", \"\\u0120t h\", \"e r\", \"i n\"";
    int id = 0;
    auto add = [&](const std::string& escaped) {
        if (!vocab.empty()) vocab += ", ";
        vocab += "\"" + escaped + "\": " + std::to_string(id++);
    };
    for (int b = 0; b < 256; ++b) {
        std::string piece = slm::tok::byte_to_unicode(static_cast<uint8_t>(b));
        if (piece == "\"" || piece == "\\") piece = "\\" + piece;
        add(piece);
    }
    for (const char* p : {"\\u0120t", "\\u0120th", "er", "in"}) add(p);
    std::string json = "{\"added_tokens\": [{\"id\": " + std::to_string(id) +
                       ", \"content\": \"<|end|>\", \"special\": true}], \"model\": {\"type\": \"BPE\", \"vocab\": {" + vocab +
                       "}, \"merges\": [" + merges + "]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false}," +
                       " \"decoder\": {\"type\": \"ByteLevel\"}}";
    return slm::Tokenizer::from_hf_json(json, "", "fuzz-byte-level");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 4 == 0) {
        std::unique_ptr<slm::Tokenizer> tok;
        try {
            tok = slm::Tokenizer::from_hf_json(rest, "", "fuzz");
        } catch (const slm::Error&) {
            return 0;
        }
        for (bool special : {false, true}) {
            auto ids = tok->encode("Hello world, caf\xC3\xA9 \xF0\x9F\xA6\x99 <s> 123", special, special);
            tok->decode(ids, special);
        }
        return 0;
    }
    static const std::unique_ptr<slm::Tokenizer> tok = make_byte_level_tokenizer();
    bool parse_special = data[0] % 2 == 1;
    auto ids = tok->encode(rest, false, parse_special);
    for (int32_t id : ids)
        if (id < 0 || id >= tok->vocab_size()) std::abort();
    if (tok->decode(ids) != slm::tok::repair_utf8(rest)) std::abort();
    slm::StreamingDecoder stream(*tok, false);
    std::string joined;
    for (int32_t id : ids) joined += stream.push(id);
    joined += stream.flush();
    if (joined != tok->decode(ids)) std::abort();
    return 0;
}
