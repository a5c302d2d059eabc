// `slm embed MODEL [TEXT...] [--file TEXTS] [-o out.npy]`: one vector per text from an encoder
// (BERT, XLM-R) or a decoder in embedding mode; JSON Lines on stdout (one array per text, in
// order) or a float32 [N, D] .npy file. --file takes plain lines or JSONL with a "text" field.
#include <CLI/CLI.hpp>
#include <slm/embedder.h>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/progress.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "model_arg.h"

namespace {

struct EmbedOptions {
    std::string model, file, output, pooling;
    std::vector<std::string> texts;
    bool json = false, normalize = false, no_normalize = false;
    int threads = 0;
    int64_t max_tokens = 0, batch_tokens = 2048;
};

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The texts of `path`: one per line, or with a .jsonl / .ndjson name (or a first line that opens
// a JSON object) the "text" field of each line's object. A last empty line is the file's final
// newline; any other empty line is an error, since outputs are matched to inputs by position.
std::vector<std::string> read_texts(const std::string& path) {
    const std::string content = slm::read_text_file(path);
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= content.size()) {
        size_t end = content.find('\n', start);
        if (end == std::string::npos) end = content.size();
        std::string line = content.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (end == content.size() && line.empty()) break;
        lines.push_back(std::move(line));
        start = end + 1;
    }
    const bool jsonl = ends_with(path, ".jsonl") || ends_with(path, ".ndjson") ||
                       (!lines.empty() && lines.front().find_first_not_of(" \t") != std::string::npos &&
                        lines.front()[lines.front().find_first_not_of(" \t")] == '{');
    std::vector<std::string> texts;
    texts.reserve(lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].empty())
            slm::fail("{}:{}: empty line (every line is one text, and vectors are matched to lines by position)", path, i + 1);
        if (!jsonl) {
            texts.push_back(std::move(lines[i]));
            continue;
        }
        const nlohmann::json j = nlohmann::json::parse(lines[i], nullptr, false);
        if (j.is_discarded()) slm::fail("{}:{}: not valid JSON", path, i + 1);
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
            slm::fail("{}:{}: expected an object with a \"text\" string field", path, i + 1);
        texts.push_back(j["text"].get<std::string>());
    }
    if (texts.empty()) slm::fail("{}: no texts", path);
    return texts;
}

// numpy's .npy format 1.0: magic, header length, a Python dict literal padded with spaces to a
// multiple of 64 bytes and ended by a newline, then the little-endian float32 data in C order.
void write_npy(const std::string& path, const std::vector<std::vector<float>>& vectors, int64_t dim) {
    std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", vectors.size(), dim);
    const size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    slm::AtomicFileWriter out(path);
    out.write("\x93NUMPY\x01\x00", 8);
    const uint16_t header_len = uint16_t(header.size());
    const uint8_t len_bytes[2] = {uint8_t(header_len & 0xFF), uint8_t(header_len >> 8)};
    out.write(len_bytes, 2);
    out.write(header);
    for (const auto& v : vectors) out.write(v.data(), v.size() * sizeof(float));
    out.commit();
}

void run_embed(const EmbedOptions& o) {
    if (!o.file.empty() && !o.texts.empty()) slm::fail("give the texts either as arguments or with --file, not both");
    if (o.file.empty() && o.texts.empty()) slm::fail("no texts: give them as arguments or with --file");
    if (o.json && !o.output.empty() && ends_with(o.output, ".npy"))
        slm::fail("--json writes JSON Lines; -o {} asks for a .npy file: choose one", o.output);
    const std::vector<std::string> texts = o.file.empty() ? o.texts : read_texts(o.file);

    slm::EmbedderOptions options;
    options.pooling = o.pooling;
    if (o.normalize) options.normalize = true;
    if (o.no_normalize) options.normalize = false;
    options.threads = o.threads;
    options.max_tokens = o.max_tokens;
    options.batch_tokens = o.batch_tokens;
    auto embedder = slm::Embedder::open(o.model, options);

    // Texts go in slices, so that the progress bar moves; each slice is batched by the embedder.
    constexpr size_t kSlice = 256;
    std::vector<std::vector<float>> vectors;
    vectors.reserve(texts.size());
    const auto start = std::chrono::steady_clock::now();
    {
        slm::Progress progress("embed", texts.size(), "texts");
        for (size_t begin = 0; begin < texts.size(); begin += kSlice) {
            const size_t n = std::min(kSlice, texts.size() - begin);
            auto slice = embedder->embed(std::span(texts).subspan(begin, n));
            for (auto& v : slice) vectors.push_back(std::move(v));
            progress.advance(n);
        }
        progress.finish();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    if (!o.output.empty() && ends_with(o.output, ".npy")) {
        write_npy(o.output, vectors, embedder->dim());
    } else {
        std::string out;
        for (const auto& v : vectors) {
            out += '[';
            for (size_t d = 0; d < v.size(); ++d) {
                if (d) out += ',';
                out += fmt::format("{}", v[d]);
            }
            out += "]\n";
        }
        if (o.output.empty()) fmt::print("{}", out);
        else {
            slm::AtomicFileWriter file(o.output);
            file.write(out);
            file.commit();
        }
    }
    fmt::print(stderr, "{} texts, {} dimensions ({}, {} pooling{}) in {:.2f} s: {:.1f} texts/s\n", texts.size(),
               embedder->dim(), embedder->name(), slm::pooling_name(embedder->pooling()),
               embedder->normalize() ? ", normalized" : "", seconds, double(texts.size()) / std::max(seconds, 1e-9));
}

}  // namespace

void add_verb_embed(CLI::App& app) {
    auto opts = std::make_shared<EmbedOptions>();
    auto* cmd = app.add_subcommand("embed", "Embed texts with an encoder (BERT, XLM-R) or a decoder in embedding mode");
    auto models = std::make_shared<slm::cli::ModelArgs>(cmd);
    models->add("MODEL", opts->model, "GGUF file or Hugging Face model directory")->required();
    cmd->add_option("TEXT", opts->texts, "texts to embed (or --file)");
    cmd->add_option("--file,-f", opts->file, "texts, one per line; or JSONL (.jsonl, or lines that are objects) with a \"text\" field");
    cmd->add_option("--output,-o", opts->output, "write the vectors here: float32 [N, D] for a .npy name, else JSON Lines");
    cmd->add_flag("--json", opts->json, "JSON Lines on stdout: one array per text, in order (the default)");
    cmd->add_option("--pooling", opts->pooling, "cls, mean or last (default: the model's own; mean for a decoder)")
        ->check(CLI::IsMember({"cls", "mean", "last"}));
    auto* norm = cmd->add_flag("--normalize", opts->normalize, "scale every vector to unit length");
    auto* no_norm = cmd->add_flag("--no-normalize", opts->no_normalize, "keep the pooled vectors as they are");
    norm->excludes(no_norm);
    cmd->add_option("--max-tokens", opts->max_tokens, "cut texts at this many tokens (default: the model's max_seq_length)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--batch-tokens", opts->batch_tokens, "tokens per forward (default 2048)")->check(CLI::PositiveNumber);
    cmd->add_option("--threads,-t", opts->threads, "threads (default: one per core)");
    cmd->callback([opts, models] {
        models->resolve();
        run_embed(*opts);
    });
}
