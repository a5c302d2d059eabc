// `slm quantize IN.gguf OUT.gguf TYPE`: re-encodes a GGUF model's weight matrices with one type or
// a llama.cpp-style mix (q4_k_m, q3_k_s, ...), keeping norms and other 1-D tensors unchanged, and
// writes general.file_type as llama-quantize does. Rows are quantized in parallel; atomic write.
#include <CLI/CLI.hpp>
#include <slm/error.h>
#include <slm/gguf.h>
#include <slm/progress.h>
#include <slm/thread_pool.h>

#include "quant/convert_rows.h"
#include "quant/recipe.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "model_arg.h"

namespace {

using namespace slm;

struct QuantizeOptions {
    std::string input, output, type;
    int threads = 0;
    bool allow_requantize = false;
};

quant::ModelFacts model_facts(const GgufFile& file) {
    quant::ModelFacts m;
    const auto arch = file.get_string("general.architecture");
    if (!arch) fail("{}: no general.architecture key; is this a model GGUF?", file.path());
    m.arch = *arch;
    m.n_layer = int(file.get_int(m.arch + ".block_count").value_or(0));
    m.n_head = int(file.get_int(m.arch + ".attention.head_count").value_or(0));
    m.n_head_kv = int(file.get_int(m.arch + ".attention.head_count_kv").value_or(m.n_head));
    m.n_expert = int(file.get_int(m.arch + ".expert_count").value_or(0));
    m.has_output = file.find_info("output.weight") != nullptr;
    return m;
}

// ggml_n_dims: dimensions not counting outer ones of size 1.
int effective_dims(const std::vector<int64_t>& shape) {
    size_t first = 0;
    while (first + 1 < shape.size() && shape[first] == 1) ++first;
    return int(shape.size() - first);
}

// llama.cpp writes tensors ordered by layer (non-layer tensors first), then by name.
std::vector<const GgufTensorInfo*> llama_order(const GgufFile& file) {
    std::vector<const GgufTensorInfo*> order;
    for (const auto& info : file.tensor_infos()) order.push_back(&info);
    auto layer_of = [](const std::string& name) {
        int layer = -1;
        std::sscanf(name.c_str(), "blk.%d.", &layer);
        return layer;
    };
    std::stable_sort(order.begin(), order.end(), [&](const GgufTensorInfo* a, const GgufTensorInfo* b) {
        const int la = layer_of(a->name), lb = layer_of(b->name);
        return la != lb ? la < lb : a->name < b->name;
    });
    return order;
}

void run_quantize(const QuantizeOptions& opt) {
    const auto mix = quant::find_mix(opt.type);
    if (!mix) fail("unknown quantization type '{}'; expected one of: {}", opt.type, fmt::join(quant::mix_names(), ", "));
    const auto file = GgufFile::open(opt.input);
    const auto facts = model_facts(*file);

    GgufWriter writer(3);
    for (const auto& kv : file->metadata()) writer.set(kv.key, kv.value);
    for (const char* key : {"split.no", "split.count", "split.tensors.count"}) writer.remove(key);
    // llama.cpp re-adds these two at the end of the key list.
    writer.remove("general.quantization_version");
    writer.set("general.quantization_version", GgufWriter::u32(2));
    writer.remove("general.file_type");
    writer.set("general.file_type", GgufWriter::u32(uint32_t(mix->file_type)));

    ThreadPool pool(opt.threads);
    const auto order = llama_order(*file);
    std::vector<Buffer> outputs;
    outputs.reserve(order.size());
    std::map<std::string, int> type_counts;
    uint64_t bytes_in = 0, bytes_out = 0, n_weights = 0;
    int fallbacks = 0;
    Progress progress("quantize", order.size(), "tensors");
    for (const GgufTensorInfo* info : order) {
        const uint8_t* src = file->data() + file->data_offset() + info->offset;
        const int64_t row_length = info->shape.back();
        int64_t elements = 1;
        for (int64_t d : info->shape) elements *= d;
        DType target = info->dtype;
        if (quant::is_quantizable(info->name, effective_dims(info->shape))) {
            const auto choice = quant::choose_type(*mix, facts, info->name, row_length);
            target = choice.type;
            fallbacks += choice.fallback ? 1 : 0;
        }
        bytes_in += info->nbytes;
        n_weights += uint64_t(elements);
        if (target == info->dtype) {
            writer.add_tensor(info->name, info->dtype, info->shape, src);
            bytes_out += info->nbytes;
        } else {
            if (is_quantized(info->dtype) && !opt.allow_requantize)
                fail("{}: tensor '{}' is already quantized ({}); pass --allow-requantize to re-quantize it to {} "
                     "(quality is lower than quantizing from f16/f32)",
                     opt.input, info->name, name(info->dtype), name(target));
            const int64_t rows = elements / row_length;
            Buffer out = Buffer::allocate(row_bytes(target, row_length) * size_t(rows));
            quant::convert_rows(info->dtype, src, target, out.data(), rows, row_length, pool);
            writer.add_tensor(info->name, target, info->shape, out.data());
            bytes_out += out.size();
            outputs.push_back(std::move(out));
        }
        ++type_counts[std::string(name(target))];
        progress.advance();
    }
    progress.finish();
    writer.write(opt.output);

    std::string types;
    for (const auto& [type, count] : type_counts) types += fmt::format(" {}:{}", type, count);
    fmt::print("{}: {} tensors, {:.2f} MiB -> {} ({}): {:.2f} MiB, {:.2f} bits per weight; types{}{}\n", opt.input,
               order.size(), double(bytes_in) / (1 << 20), opt.output, mix->name, double(bytes_out) / (1 << 20),
               8.0 * double(bytes_out) / double(std::max<uint64_t>(1, n_weights)), types,
               fallbacks ? fmt::format("; {} tensor(s) used a fallback type (row length)", fallbacks) : "");
}

}  // namespace

void add_verb_quantize(CLI::App& app) {
    auto opt = std::make_shared<QuantizeOptions>();
    auto* cmd = app.add_subcommand("quantize", "Quantize a GGUF model's weights (q4_k_m, q8_0, ...) as llama-quantize does");
    auto models = std::make_shared<slm::cli::ModelArgs>(cmd);
    models->add("input", opt->input, "Input GGUF (f32, f16 or bf16 weights)")->required();
    cmd->add_option("output", opt->output, "Output GGUF")->required();
    cmd->add_option("type", opt->type,
                    "Target: q8_0 q4_0 q4_1 q5_0 q5_1 q6_k, the mixes q2_k q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s "
                    "q5_k_m (q3_k/q4_k/q5_k mean the _m mixes), or f16 bf16 f32")
        ->required();
    cmd->add_option("--threads,-t", opt->threads, "Worker threads (default: one per CPU)");
    cmd->add_flag("--allow-requantize", opt->allow_requantize, "Allow re-quantizing tensors that are already quantized");
    cmd->callback([opt, models] {
        models->resolve();
        run_quantize(*opt);
    });
}
