// `slm perplexity MODEL --file TEXT`: perplexity with llama.cpp's llama-perplexity rules, so the
// numbers compare: the text is tokenized whole (with BOS when the vocabulary adds one), cut into
// non-overlapping windows of n_ctx tokens; each window is evaluated from an empty cache with its
// first token replaced by BOS (when added), and only the second half of each window is scored.
// --kl-base BASE runs a base model (same vocabulary) over the same windows and reports the mean
// KL divergence KL(base || model) over the scored tokens and how often both pick the same top token,
// the numbers llama.cpp users compare quantization types by.
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
    std::string model, file, kl_base;
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

// Softmax probabilities of one row, in double.
void softmax_row(const float* logits, int n_vocab, std::vector<double>& p) {
    p.resize(size_t(n_vocab));
    const float max = *std::max_element(logits, logits + n_vocab);
    double sum = 0;
    for (int i = 0; i < n_vocab; ++i) sum += p[size_t(i)] = std::exp(double(logits[i]) - double(max));
    for (double& v : p) v /= sum;
}

// KL(base || model) of two logit rows, and whether their top tokens agree.
std::pair<double, bool> kl_and_agreement(const float* base, const float* model, int n_vocab, std::vector<double>& pb,
                                         std::vector<double>& pm) {
    softmax_row(base, n_vocab, pb);
    softmax_row(model, n_vocab, pm);
    double kl = 0;
    for (size_t i = 0; i < pb.size(); ++i)
        if (pb[i] > 0) kl += pb[i] * (std::log(pb[i]) - std::log(std::max(pm[i], 1e-300)));
    const bool same = std::max_element(base, base + n_vocab) - base == std::max_element(model, model + n_vocab) - model;
    return {kl, same};
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
    std::unique_ptr<Model> base;
    std::unique_ptr<Session> base_session;
    if (!opt.kl_base.empty()) {
        base = Model::load(opt.kl_base);
        if (base->vocab_size() != model->vocab_size())
            fail("--kl-base {}: vocabulary of {} tokens, but {} has {}", opt.kl_base, base->vocab_size(), opt.model,
                 model->vocab_size());
        base_session = std::make_unique<Session>(*base, so);
    }
    double kl_sum = 0;
    int64_t kl_count = 0, same_top = 0;
    std::vector<double> pb, pm;
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
        if (base_session) {
            base_session->clear(0);
            const std::vector<float>& base_logits = base_session->forward(batch);
            for (size_t r = 0; r + 1 < rows; ++r) {
                const auto [kl, same] = kl_and_agreement(base_logits.data() + r * size_t(n_vocab),
                                                         logits.data() + r * size_t(n_vocab), n_vocab, pb, pm);
                kl_sum += kl;
                same_top += same;
                ++kl_count;
            }
        }
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
        if (kl_count > 0) {
            j["kld"] = kl_sum / double(kl_count);
            j["same_top_token"] = double(same_top) / double(kl_count);
        }
        fmt::print("{}\n", j.dump());
    } else {
        fmt::print("{}\nFinal estimate: PPL = {:.4f} +/- {:.5f}\n", running, ppl, stderr_ppl);
        if (kl_count > 0)
            fmt::print("Mean KLD: {:.6f}\nSame top token: {:.3f} %\n", kl_sum / double(kl_count),
                       100.0 * double(same_top) / double(kl_count));
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
    cmd->add_option("--kl-base", opt->kl_base, "Base model (same vocabulary): also report mean KL divergence and top-token agreement");
    cmd->add_flag("--json", opt->json, "Print {ppl, ppl_stderr, n_chunks, n_ctx, n_tokens[, kld, same_top_token]} as JSON");
    cmd->callback([opt] { run_perplexity(*opt); });
}
