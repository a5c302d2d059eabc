// Perplexity as llama-perplexity computes it (see the header for the windowing rules). Sums are
// in double: over 300k scored tokens float sums would drift in the fourth digit that comparisons
// with llama.cpp are made on.
#include <slm/error.h>
#include <slm/eval/perplexity.h>
#include <slm/session.h>

#include <algorithm>
#include <cmath>
#include <memory>

namespace slm::eval {
namespace {

// log sum_i exp(logits[i]) of one row, in double: log p(i) = logits[i] - this.
double log_normalizer(const float* logits, int n_vocab) {
    const float max = *std::max_element(logits, logits + n_vocab);
    double sum = 0;
    for (int i = 0; i < n_vocab; ++i) sum += std::exp(double(logits[i]) - double(max));
    return double(max) + std::log(sum);
}

int argmax(const float* row, int n) { return int(std::max_element(row, row + n) - row); }

// Running sums of KL(base || model) of two next-token distributions, in the log domain (the
// model's normalizer is the one its negative log-likelihood already needed).
struct KlAccumulator {
    double sum = 0;
    int64_t count = 0, same_top = 0;

    void add(const float* base, const float* model, double model_log_z, int n_vocab) {
        const double base_log_z = log_normalizer(base, n_vocab);
        double kl = 0;
        for (int i = 0; i < n_vocab; ++i) {
            const double log_p_base = double(base[i]) - base_log_z;
            kl += std::exp(log_p_base) * (log_p_base - (double(model[i]) - model_log_z));
        }
        sum += kl;
        same_top += argmax(base, n_vocab) == argmax(model, n_vocab);
        ++count;
    }
};

}  // namespace

PerplexityTokens PerplexityTokens::from_text(const Tokenizer& tokenizer, std::string_view text) {
    PerplexityTokens t;
    t.tokens = tokenizer.encode(text, /*add_special=*/true, /*parse_special=*/false);
    if (tokenizer.add_bos()) t.bos = tokenizer.bos_id();
    return t;
}

PerplexityResult perplexity(const Model& model, const PerplexityTokens& input, const PerplexityOptions& options,
                            const PerplexityCallback& on_chunk) {
    const int n_ctx = options.n_ctx;
    if (n_ctx < 4) fail("perplexity: context of {} tokens is too small (at least 4)", n_ctx);
    const std::vector<int32_t>& tokens = input.tokens;
    if (tokens.size() < size_t(2) * size_t(n_ctx))
        fail("perplexity: {} tokens; a context of {} needs at least {}", tokens.size(), n_ctx, 2 * n_ctx);
    if (options.kl_base && options.kl_base->vocab_size() != model.vocab_size())
        fail("perplexity: the base model has a vocabulary of {} tokens, the model {}", options.kl_base->vocab_size(),
             model.vocab_size());
    const int n_vocab = model.vocab_size();
    for (const int32_t t : tokens)
        if (t < 0 || t >= n_vocab) fail("perplexity: token id {} is outside the vocabulary of {}", t, n_vocab);

    const int max_chunks = int(tokens.size() / size_t(n_ctx));
    const int n_chunks = options.max_chunks < 0 ? max_chunks : std::min(options.max_chunks, max_chunks);
    if (n_chunks < 1) fail("perplexity: no chunk to score");
    const int first = n_ctx / 2;

    SessionOptions so;
    so.n_ctx = n_ctx;
    so.n_batch = n_ctx;
    so.threads = options.threads;
    so.kv_dtype = options.kv_dtype;
    std::unique_ptr<Session> base_session;
    if (options.kl_base) base_session = std::make_unique<Session>(*options.kl_base, so);
    so.adapters = options.adapters;  // the model's, never the base's
    Session session(model, so);

    PerplexityResult result;
    result.n_chunks = n_chunks;
    result.n_ctx = n_ctx;
    KlAccumulator kl;
    double nll = 0, nll2 = 0;
    Batch batch;
    for (int c = 0; c < n_chunks; ++c) {
        const size_t start = size_t(c) * size_t(n_ctx);
        batch.clear();
        for (int k = 0; k < n_ctx; ++k) {
            const int32_t token = (k == 0 && input.bos) ? *input.bos : tokens[start + size_t(k)];
            batch.add(token, k, 0, k >= first);
        }
        session.clear(0);
        const std::vector<float>& logits = session.forward(batch);
        // Row r holds the logits after window position first + r; the last row predicts past the
        // window and is not scored.
        const size_t rows = size_t(n_ctx - first);
        if (logits.size() != rows * size_t(n_vocab))
            fail("perplexity: the model returned {} logits for {} rows of {}", logits.size(), rows, n_vocab);
        const float* base_logits = nullptr;
        if (base_session) {
            base_session->clear(0);
            base_logits = base_session->forward(batch).data();
        }
        for (size_t r = 0; r + 1 < rows; ++r) {
            const float* row = logits.data() + r * size_t(n_vocab);
            const double log_z = log_normalizer(row, n_vocab);
            const double v = log_z - double(row[tokens[start + size_t(first) + r + 1]]);
            nll += v;
            nll2 += v * v;
            ++result.n_scored;
            if (base_logits) kl.add(base_logits + r * size_t(n_vocab), row, log_z, n_vocab);
        }
        result.running_ppl.push_back(std::exp(nll / double(result.n_scored)));
        if (on_chunk) on_chunk(c, result.running_ppl.back());
    }
    const double count = double(result.n_scored);
    const double mean = nll / count;
    const double var = nll2 / count - mean * mean;
    result.ppl = std::exp(mean);
    result.ppl_stderr = var > 0 && count > 1 ? std::sqrt(var / (count - 1)) * result.ppl : 0.0;
    if (kl.count > 0) {
        result.kld = kl.sum / double(kl.count);
        result.same_top_token = double(kl.same_top) / double(kl.count);
    }
    return result;
}

}  // namespace slm::eval
