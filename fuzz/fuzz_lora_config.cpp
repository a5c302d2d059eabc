// libFuzzer target: adapter_config.json parsing (parse_lora_config), then the rank and scale of a
// few module paths, which run the file's rank_pattern / alpha_pattern keys as regular expressions.
#include <slm/error.h>
#include <slm/lora_adapter.h>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const slm::LoraConfig config = slm::parse_lora_config(text, "adapter_config.json");
        for (const char* module : {"model.layers.0.self_attn.q_proj", "model.layers.11.mlp.down_proj", "lm_head"}) {
            (void)config.rank_for(module);
            (void)config.scale_for(module);
        }
        (void)slm::parse_lora_config(slm::lora_config_json(config), "written adapter_config.json");
    } catch (const slm::Error&) {
    }
    return 0;
}
