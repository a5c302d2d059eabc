// `slm perplexity MODEL --file TEXT`: perplexity with llama.cpp's llama-perplexity rules, so the
// numbers compare: the text is tokenized whole (with BOS when the vocabulary adds one), cut into
// non-overlapping windows of n_ctx tokens; each window is evaluated from an empty cache with its
// first token replaced by BOS (when added), and only the second half of each window is scored.
#include <CLI/CLI.hpp>
#include <slm/error.h>
#include <slm/file_io.h>
#include <slm/model.h>
#include <slm/progress.h>
#include <slm/session.h>
#include <slm/tokenizer.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

namespace {

using namespace slm;

struct PerplexityOptions {
    std::string model, file;
    int n_ctx = 512;
    int chunks = -1;
    int threads = 0;
    bool json = false;
};

// -log p(target) under the softmax of one row of logits, in double.
double negative_log_prob(const float* logits, int n_vocab, int32_t target) {
    float max = logits[0];
    for (int i = 1; i < n_vocab; ++i) max = std::max(max, logits[i]);
    double sum = 0;
    for (int i = 0; i < n_vocab; ++i) sum += std::exp(double(logits[i]) - double(max));
    return -(double(logits[target]) - double(max) - std::log(sum));
}

void run_perplexity(const PerplexityOptions& opt) {
    if (opt.n_ctx < 4) fail("--ctx {} is too small", opt.n_ctx);
    const auto model = Model::load(opt.model);
    const auto tokenizer = Tokenizer::from_model_path(opt.model);
    const std::string text = read_text_file(opt.file);
    std::vector<int32_t> tokens = tokenizer->encode(text, /*add_special=*/true, /*parse_special=*/false);
    const int n_ctx = opt.n_ctx;
    if (tokens.size() < size_t(2 * n_ctx))
        fail("{}: {} tokens; perplexity with --ctx {} needs at least {}", opt.file, tokens.size(), n_ctx, 2 * n_ctx);
    const int max_chunks = int(tokens.size() / size_t(n_ctx));
    const int n_chunks = opt.chunks < 0 ? max_chunks : std::min(opt.chunks, max_chunks);
    const bool add_bos = tokenizer->add_bos() && tokenizer->bos_id().has_value();
    const int first = n_ctx / 2;

    SessionOptions so;
    so.n_ctx = n_ctx;
    so.n_batch = n_ctx;
    so.threads = opt.threads;
    Session session(*model, so);
    double nll = 0, nll2 = 0;
    int64_t count = 0;
    Progress progress("perplexity", uint64_t(n_chunks), "chunks");
    std::string running;
    Batch batch;
    for (int c = 0; c < n_chunks; ++c) {
        const size_t start = size_t(c) * size_t(n_ctx);
        session.clear(0);
        batch.clear();
        for (int k = 0; k < n_ctx; ++k) {
            const int32_t token = (k == 0 && add_bos) ? *tokenizer->bos_id() : tokens[start + size_t(k)];
            batch.add(token, k, 0, k >= first);
        }
        const std::vector<float>& logits = session.forward(batch);
        const size_t rows = size_t(n_ctx - first);
        const int n_vocab = int(logits.size() / rows);
        // Row r holds the logits after position first + r; the last row predicts past the window.
        for (size_t r = 0; r + 1 < rows; ++r) {
            const double v = negative_log_prob(logits.data() + r * size_t(n_vocab), n_vocab,
                                               tokens[start + size_t(first) + r + 1]);
            nll += v;
            nll2 += v * v;
            ++count;
        }
        running += fmt::format("[{}]{:.4f},", c + 1, std::exp(nll / double(count)));
        progress.advance();
    }
    progress.finish();
    const double mean = nll / double(count);
    const double ppl = std::exp(mean);
    const double var = nll2 / double(count) - mean * mean;
    const double stderr_ppl = var > 0 ? std::sqrt(var / double(count - 1)) * ppl : 0.0;
    if (opt.json) {
        nlohmann::json j = {{"ppl", ppl}, {"ppl_stderr", stderr_ppl}, {"n_chunks", n_chunks},
                            {"n_ctx", n_ctx}, {"n_tokens", tokens.size()}};
        fmt::print("{}\n", j.dump());
    } else {
        fmt::print("{}\nFinal estimate: PPL = {:.4f} +/- {:.5f}\n", running, ppl, stderr_ppl);
    }
}

}  // namespace

void add_verb_perplexity(CLI::App& app) {
    auto opt = std::make_shared<PerplexityOptions>();
    auto* cmd = app.add_subcommand("perplexity", "Perplexity of a model on a text file, as llama.cpp's llama-perplexity computes it");
    cmd->add_option("model", opt->model, "Model: GGUF file or HF directory")->required();
    cmd->add_option("--file,-f", opt->file, "Text file")->required()->check(CLI::ExistingFile);
    cmd->add_option("--ctx,-c", opt->n_ctx, "Tokens per window (default 512)");
    cmd->add_option("--chunks", opt->chunks, "Windows to score (default: all)");
    cmd->add_option("--threads,-t", opt->threads, "Worker threads (default: one per CPU)");
    cmd->add_flag("--json", opt->json, "Print {ppl, ppl_stderr, n_chunks, n_ctx, n_tokens} as JSON");
    cmd->callback([opt] { run_perplexity(*opt); });
}
