// libFuzzer target for the fine-tuning data reader: any input is one JSONL line, parsed for its
// format and fields, then tokenized (a one-token-per-byte tokenizer with ChatML specials, so no
// model is needed) and rendered with the ChatML template for "messages". It must end in an
// Example or an slm::Error: never a crash, a hang or unbounded memory.
#include <slm/chat_template.h>
#include <slm/error.h>
#include <slm/tokenizer.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/unicode_text.h"
#include "train/dataset.h"

namespace {

const slm::Tokenizer& byte_tokenizer() {
    static const std::unique_ptr<slm::Tokenizer> tok = [] {
        nlohmann::json vocab = nlohmann::json::object();
        for (int b = 0; b < 256; ++b) vocab[slm::tok::byte_to_unicode(uint8_t(b))] = b;
        const nlohmann::json spec = {
            {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}},
            {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
            {"decoder", {{"type", "ByteLevel"}}},
            {"added_tokens",
             {{{"id", 256}, {"content", "<|endoftext|>"}, {"special", true}},
              {{"id", 257}, {"content", "<|im_start|>"}, {"special", true}},
              {{"id", 258}, {"content", "<|im_end|>"}, {"special", true}}}}};
        return slm::Tokenizer::from_hf_json(spec.dump(), R"({"eos_token": "<|endoftext|>"})", "fuzz");
    }();
    return *tok;
}

const slm::ChatTemplate& chatml() {
    static const slm::ChatTemplate t(
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
        "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}");
    return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    try {
        const slm::train::ExampleFields fields = slm::train::parse_example_line(line, "fuzz.jsonl:1");
        const slm::train::Example ex = slm::train::encode_example(fields, byte_tokenizer(), &chatml(), "fuzz.jsonl:1");
        if (ex.tokens.size() != ex.target.size() || (!ex.target.empty() && ex.target[0])) __builtin_trap();
    } catch (const slm::Error&) {
    }
    return 0;
}
