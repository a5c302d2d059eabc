// libFuzzer target: SafetensorsFile::parse on arbitrary bytes. A file that parses must yield
// in-bounds tensor views and survive write + re-read with the same tensors.
#include <slm/error.h>
#include <slm/safetensors.h>

#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::unique_ptr<slm::SafetensorsFile> file;
    try {
        file = slm::SafetensorsFile::parse(data, size, "fuzz.safetensors");
    } catch (const slm::Error&) {
        return 0;
    }
    slm::SafetensorsWriter writer;
    for (const auto& [key, value] : file->metadata()) writer.set_metadata(key, value);
    for (const auto& info : file->tensor_infos()) {
        const auto t = file->find_tensor(info.name);
        if (!t || t->nbytes() != info.nbytes()) std::abort();
        const auto* bytes = static_cast<const uint8_t*>(t->data);
        if (bytes < data + file->data_offset() || bytes + info.nbytes() > data + size) std::abort();
        writer.add_tensor(info.name, info.dtype, info.shape, t->data);
    }
    std::string out;
    try {
        out = writer.serialize();
    } catch (const slm::Error&) {
        return 0;  // names or metadata that are not valid UTF-8 cannot be written as JSON
    }
    const auto again = slm::SafetensorsFile::parse(reinterpret_cast<const uint8_t*>(out.data()), out.size(), "rewritten");
    if (again->tensor_infos().size() != file->tensor_infos().size()) std::abort();
    for (const auto& info : again->tensor_infos()) {
        const auto* original = file->find_info(info.name);
        if (!original || original->shape != info.shape || original->dtype != info.dtype) std::abort();
        if (std::memcmp(data + file->data_offset() + original->begin, out.data() + again->data_offset() + info.begin,
                        info.nbytes()) != 0)
            std::abort();
    }
    return 0;
}
