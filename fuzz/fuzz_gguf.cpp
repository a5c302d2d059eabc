// libFuzzer target: GgufFile::parse on arbitrary bytes. A file that parses must also yield its
// config (or an slm::Error), its tensor views, and survive write + re-read unchanged.
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/model_config.h>

#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::unique_ptr<slm::GgufFile> file;
    try {
        file = slm::GgufFile::parse(data, size, "fuzz.gguf");
    } catch (const slm::Error&) {
        return 0;
    }
    for (const auto& info : file->tensor_infos()) {
        const auto t = file->find_tensor(info.name);
        if (!t || t->nbytes() != info.nbytes) std::abort();
        volatile uint8_t sink = info.nbytes ? static_cast<const uint8_t*>(t->data)[info.nbytes - 1] : 0;  // in bounds
        (void)sink;
    }
    try {
        (void)slm::config_from_gguf(*file);
    } catch (const slm::Error&) {
    }
    try {
        (void)slm::tokenizer_config_from_gguf(*file);
    } catch (const slm::Error&) {
    }
    // Writing what was read and reading it back must work, and writing again gives the same bytes.
    slm::GgufWriter writer;
    writer.copy_from(*file);
    const std::string first = writer.serialize();
    const auto again = slm::GgufFile::parse(reinterpret_cast<const uint8_t*>(first.data()), first.size(), "rewritten.gguf");
    slm::GgufWriter rewriter;
    rewriter.copy_from(*again);
    if (rewriter.serialize() != first) std::abort();
    return 0;
}
