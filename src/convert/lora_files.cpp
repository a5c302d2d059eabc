// LoRA adapters by path: the format chosen by the path (a .gguf file or a PEFT directory), the
// optional ":SCALE" suffix of the command line, and the binding of the result to a model. Lives in
// convert/ because reading a GGUF LoRA needs the base's tensor names (lora_gguf.cpp).
#include <slm/error.h>
#include <slm/lora_files.h>
#include <slm/lora_gguf.h>
#include <slm/model.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <memory>

namespace slm {

LoraSpec parse_lora_spec(const std::string& text) {
    LoraSpec spec{text, 1.0f};
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size()) return spec;
    const std::string suffix = text.substr(colon + 1);
    char* end = nullptr;
    errno = 0;
    const double scale = std::strtod(suffix.c_str(), &end);
    if (end != suffix.c_str() + suffix.size()) return spec;  // not a number: part of the path
    if (errno == ERANGE || !std::isfinite(scale)) fail("--lora {}: scale '{}' is not a finite number", text, suffix);
    spec.path = text.substr(0, colon);
    spec.scale = float(scale);
    if (spec.path.empty()) fail("--lora {}: no adapter path before the scale", text);
    return spec;
}

LoraAdapter load_lora_adapter(const std::string& path, const ModelConfig& base) {
    if (path.ends_with(".gguf")) return load_gguf_lora(path, base);
    return LoraAdapter::load_peft(path);
}

LoraStack load_lora_stack(const Model& model, const std::vector<LoraSpec>& specs) {
    if (specs.empty()) return {};
    std::vector<LoraUse> uses;
    for (const LoraSpec& spec : specs)
        uses.push_back(
            {std::make_shared<const LoraAdapter>(load_lora_adapter(spec.path, model.config())), spec.scale, spec.path});
    return LoraStack(model, std::move(uses));
}

}  // namespace slm
