// libFuzzer target for the Jinja parser and interpreter: any input is a template, rendered against
// a small chat context. It must end in a rendering or a TemplateError: never a crash, a hang or
// unbounded memory (tight Limits keep each run short).
#include <slm/jinja.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace {

const nlohmann::ordered_json& context() {
    static const nlohmann::ordered_json c = nlohmann::ordered_json::parse(R"({
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Grüße 👋 <b>&'\""},
            {"role": "assistant", "content": null, "tool_calls": [
                {"type": "function", "function": {"name": "f", "arguments": {"x": 1, "y": [1.5, true]}}}]},
            {"role": "tool", "content": "42"}],
        "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                   "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}],
        "documents": null,
        "add_generation_prompt": true,
        "bos_token": "<s>",
        "eos_token": "</s>"
    })");
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    slm::jinja::Limits limits;
    limits.max_steps = 200'000;
    limits.max_output = 1 << 20;
    limits.max_call_depth = 50;
    try {
        slm::jinja::Template t(std::string(reinterpret_cast<const char*>(data), size), "fuzz", limits);
        t.render(context());
    } catch (const slm::jinja::TemplateError&) {
    }
    return 0;
}
