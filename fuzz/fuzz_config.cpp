// libFuzzer target: the JSON config parsers. The first byte picks config.json,
// generation_config.json or tokenizer_config.json; the rest is the file's text.
#include <slm/error.h>
#include <slm/model_config.h>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        switch (data[0] % 3) {
            case 0: (void)slm::parse_hf_config(text, "config.json"); break;
            case 1: (void)slm::parse_generation_config(text, "generation_config.json"); break;
            default: (void)slm::parse_tokenizer_config(text, "tokenizer_config.json"); break;
        }
    } catch (const slm::Error&) {
    }
    return 0;
}
