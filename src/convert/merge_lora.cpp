// slm merge (slm/merge.h): every weight an adapter updates is read as f32, gets Σ scale·B·A
// added by the f32 GEMM, and is stored in the output type; every other tensor is written as the
// base holds it (zero copy when its type does not change). GGUF output goes through an HF
// directory beside the target, converted by convert_hf_to_gguf and then removed, so the GGUF
// writer and its naming rules exist once.
#include <slm/convert.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/merge.h>
#include <slm/model_config.h>
#include <slm/progress.h>
#include <slm/safetensors.h>
#include <slm/tensor_source.h>
#include <slm/train_ops.h>

#include "quant/convert_rows.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>

namespace slm {

namespace {

namespace fs = std::filesystem;

// The files of an HF model directory besides its weights that a loader reads.
constexpr const char* kModelFiles[] = {"config.json",           "generation_config.json", "tokenizer.json",
                                       "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                                       "added_tokens.json",     "vocab.json",             "merges.txt",
                                       "chat_template.jinja",   "chat_template.json"};

struct Update {
    const LoraModule* module;
    float scale;  // the adapter's own scale times the user's
};

// The type a floating tensor is written in: the requested one, else its own.
DType output_type(DType own, const std::string& requested) {
    if (requested.empty() || !traits(own).is_float) return own;
    const std::optional<DType> t = dtype_from_name(requested);
    if (!t || (*t != DType::f32 && *t != DType::f16 && *t != DType::bf16))
        fail("--type {}: an HF directory stores f32, f16 or bf16", requested);
    return *t;
}

bool ends_with_gguf(const std::string& path) {
    const std::string ext = fs::path(path).extension().string();
    return ext == ".gguf" || ext == ".GGUF";
}

}  // namespace

void merge_lora(const std::string& base_dir, const MergeOptions& options, ThreadPool& pool) {
    if (options.adapters.empty()) fail("merge: no adapter given (--lora PATH[:SCALE])");
    if (options.output.empty()) fail("merge: no output given (-o DIR or -o FILE.gguf)");
    if (!fs::is_directory(base_dir))
        fail("{}: merge needs the float base model as a Hugging Face directory; a GGUF base keeps its adapters "
             "unmerged (--lora at run, chat, serve)",
             base_dir);
    const ModelFiles base = ModelFiles::open(base_dir);
    const TensorSource& tensors = *base.tensors;

    std::vector<LoraAdapter> adapters;
    adapters.reserve(options.adapters.size());
    for (const LoraSpec& spec : options.adapters) adapters.push_back(load_lora_adapter(spec.path, base.config));
    std::map<std::string, std::vector<Update>> updates;  // by weight tensor name
    for (size_t i = 0; i < adapters.size(); ++i)
        for (const LoraModule& m : adapters[i].modules) {
            const std::string name = m.module + ".weight";
            const std::optional<Tensor> w = tensors.find_tensor(name);
            if (!w)
                fail("{}: adapter module '{}' has no weight '{}' in {}", options.adapters[i].path, m.module, name,
                     base_dir);
            if (w->shape.size() != 2 || w->shape[0] != m.out_features || w->shape[1] != m.in_features)
                fail("{}: adapter module '{}' is {}x{} but the base's weight is {}", options.adapters[i].path,
                     m.module, m.out_features, m.in_features, shape_string(w->shape));
            updates[name].push_back({&m, m.scale * options.adapters[i].scale});
        }

    const bool gguf = ends_with_gguf(options.output);
    const std::string hf_out = gguf ? options.output + ".merge-tmp" : options.output;
    std::error_code ec;
    fs::create_directories(hf_out, ec);
    if (ec) fail("{}: cannot create the output directory: {}", hf_out, ec.message());
    // A GGUF keeps the merged matrices in f32 until the converter rounds them once to its type.
    const std::string hf_type = gguf ? "f32" : options.type;

    SafetensorsWriter writer;
    writer.set_metadata("format", "pt");
    std::vector<std::vector<uint8_t>> storage;  // converted tensors, alive until the write
    const std::vector<std::string> names = tensors.tensor_names();
    Progress progress("merge", names.size(), "tensors");
    for (const std::string& name : names) {
        const Tensor t = *tensors.find_tensor(name);
        const auto it = updates.find(name);
        const DType to = output_type(t.dtype, hf_type);
        if (it == updates.end() && to == t.dtype) {
            writer.add_tensor(name, t.dtype, t.shape, t.data);
            progress.advance();
            continue;
        }
        const int64_t rows = t.shape.empty() ? 1 : t.numel() / t.shape.back();
        const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
        std::vector<float> w(size_t(t.numel()));
        quant::convert_rows(t.dtype, t.data, DType::f32, w.data(), rows, cols, pool);
        if (it != updates.end())
            for (const Update& u : it->second) {
                const LoraModule& m = *u.module;
                // W[out, in] += scale · B[out, r] · A[r, in]
                kernels::sgemm(kernels::Trans::no, kernels::Trans::no, m.out_features, m.in_features, m.rank, u.scale, m.b.data(), m.rank,
                      m.a.data(), m.in_features, 1.0f, w.data(), m.in_features, &pool);
            }
        std::vector<uint8_t>& bytes =
            storage.emplace_back(size_t(t.numel()) * size_t(traits(to).block_bytes) / size_t(traits(to).block_size));
        quant::convert_rows(DType::f32, w.data(), to, bytes.data(), rows, cols, pool);
        writer.add_tensor(name, to, t.shape, bytes.data());
        progress.advance();
    }
    writer.write(hf_out + "/model.safetensors");
    progress.finish();

    // Every other file the model is loaded with; config.json names the new dtype when it changed.
    for (const char* file : kModelFiles) {
        const fs::path from = fs::path(base_dir) / file;
        if (!fs::exists(from)) continue;
        std::string text = read_text_file(from.string());
        if (std::string(file) == "config.json" && !hf_type.empty()) {
            nlohmann::ordered_json config = nlohmann::ordered_json::parse(text);
            const DType t = output_type(DType::f32, hf_type);
            const char* torch_name = t == DType::f32 ? "float32" : t == DType::f16 ? "float16" : "bfloat16";
            config[config.contains("dtype") ? "dtype" : "torch_dtype"] = torch_name;
            text = config.dump(2) + "\n";
        }
        write_file_atomic((fs::path(hf_out) / file).string(), text);
    }
    // (A sharded base's index is not copied: the merged weights are one file.)
    if (!gguf) return;

    ConvertOptions convert;
    if (!options.type.empty()) {
        const std::optional<DType> t = dtype_from_name(options.type);
        if (!t) fail("--type {}: not a type name (f32, f16, bf16, q8_0)", options.type);
        convert.type = *t;
    }
    convert.name = fs::path(base_dir).filename().string();
    convert_hf_to_gguf(hf_out, options.output, convert, &pool);
    fs::remove_all(hf_out, ec);
}

}  // namespace slm
