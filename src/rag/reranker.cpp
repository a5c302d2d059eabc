// Reranker: query likelihood under the generation model. Each candidate becomes one sequence,
// "Passage: …\nPlease write a question based on this passage.\nQuestion:" followed by the question's
// tokens, and is scored by the mean log-probability of those tokens; sequences are packed several
// to a forward, each in its own slot of a scratch cache.
#include <slm/error.h>
#include <slm/reranker.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace slm::rag {
namespace {

constexpr std::string_view kPassageLead = "Passage: ";
constexpr std::string_view kQuestionLead = "\nPlease write a question based on this passage.\nQuestion:";

// log sum_i exp(row[i]), in double: log p(i) = row[i] - this.
double log_normalizer(const float* row, size_t n) {
    const float max = *std::max_element(row, row + n);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += std::exp(double(row[i]) - double(max));
    return double(max) + std::log(sum);
}

// One candidate's sequence: the prompt's tokens, then the question's from `question_begin` on.
struct Sequence {
    size_t passage = 0;
    std::vector<int32_t> ids;
    size_t question_begin = 0;
};

}  // namespace

int rerank_candidates(int k, int requested) { return requested > 0 ? std::max(requested, k) : std::max(4 * k, 20); }

Reranker::Reranker(const Model& model, const Tokenizer& tokenizer, ThreadPool& pool, const RerankOptions& options)
    : model_(model), tokenizer_(tokenizer), pool_(pool), options_(options) {}

std::vector<double> Reranker::score(std::string_view question, std::span<const std::string> passages) {
    if (question.find_first_not_of(" \t\r\n") == std::string_view::npos) fail("rerank: empty question");
    // The question's tokens as they follow "Question:" (not as a text of their own: a SentencePiece
    // tokenizer would add a word boundary, a BPE one would lose the space), the same for every passage.
    const std::vector<int32_t> lead = tokenizer_.encode("Question:", /*add_special=*/false);
    const std::vector<int32_t> asked = tokenizer_.encode("Question: " + std::string(question), /*add_special=*/false);
    size_t common = 0;
    while (common < lead.size() && common < asked.size() && lead[common] == asked[common]) ++common;
    const std::vector<int32_t> question_ids(asked.begin() + long(common), asked.end());
    if (question_ids.empty()) fail("rerank: the question has no tokens");

    // A passage is cut to what the model's positions and max_passage_tokens leave room for.
    const int max_position = model_.config().max_position;
    size_t passage_room = size_t(std::max(1, options_.max_passage_tokens));
    if (max_position > 0) {
        const long left = long(max_position) - long(question_ids.size()) - 48;  // the fixed lines and specials
        if (left < 16) fail("rerank: the question ({} tokens) leaves no room for a passage", question_ids.size());
        passage_room = std::min(passage_room, size_t(left));
    }
    std::vector<Sequence> sequences(passages.size());
    for (size_t i = 0; i < passages.size(); ++i) {
        std::string text = passages[i];
        const std::vector<int32_t> body = tokenizer_.encode(text, /*add_special=*/false);
        if (body.size() > passage_room) text = tokenizer_.decode(std::span<const int32_t>(body.data(), passage_room));
        Sequence& s = sequences[i];
        s.passage = i;
        s.ids = tokenizer_.encode(std::string(kPassageLead) + text + std::string(kQuestionLead), /*add_special=*/true);
        s.question_begin = s.ids.size();
        s.ids.insert(s.ids.end(), question_ids.begin(), question_ids.end());
    }

    // Longest first, packed up to batch_tokens per cache: sequences of similar length share one,
    // so its slots (count x longest) stay close to the tokens run.
    std::vector<size_t> order(sequences.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return sequences[a].ids.size() > sequences[b].ids.size(); });
    const size_t budget = size_t(std::max(64, options_.batch_tokens));
    const size_t n_vocab = size_t(model_.vocab_size());
    std::vector<double> scores(passages.size(), 0.0);
    std::vector<float> logits;
    Batch batch;
    for (size_t begin = 0; begin < order.size();) {
        size_t end = begin, tokens = 0;
        while (end < order.size() && (end == begin || tokens + sequences[order[end]].ids.size() <= budget))
            tokens += sequences[order[end++]].ids.size();
        const int longest = int(sequences[order[begin]].ids.size());
        KvCache cache(model_, longest, int(end - begin), DType::f16);
        // Every entry of the pack in sequence order, cut into forwards of at most `budget` entries
        // (a sequence's positions stay consecutive, as the cache requires); the logits of the
        // entries before each question token are kept.
        struct Entry {
            int32_t token, position, seq;
            bool scored;
        };
        std::vector<Entry> entries;
        for (size_t j = begin; j < end; ++j) {
            const Sequence& s = sequences[order[j]];
            for (size_t pos = 0; pos < s.ids.size(); ++pos)
                entries.push_back({s.ids[pos], int32_t(pos), int32_t(j - begin),
                                   pos + 1 >= s.question_begin && pos + 1 < s.ids.size()});
        }
        std::vector<float> rows;  // the scored entries' logits, in entry order
        for (size_t e = 0; e < entries.size(); e += budget) {
            batch.clear();
            for (size_t i = e; i < std::min(entries.size(), e + budget); ++i)
                batch.add(entries[i].token, entries[i].position, entries[i].seq, entries[i].scored);
            model_.forward(batch, cache, logits, &pool_);
            if (logits.size() != batch.n_logits() * n_vocab)
                fail("rerank: the model returned {} logits for {} rows of {}", logits.size(), batch.n_logits(),
                     n_vocab);
            rows.insert(rows.end(), logits.begin(), logits.end());
        }
        size_t row = 0;
        for (size_t j = begin; j < end; ++j) {
            const Sequence& s = sequences[order[j]];
            double sum = 0;
            for (size_t pos = s.question_begin; pos < s.ids.size(); ++pos, ++row) {
                const float* r = rows.data() + row * n_vocab;
                sum += double(r[s.ids[pos]]) - log_normalizer(r, n_vocab);
            }
            scores[s.passage] = sum / double(s.ids.size() - s.question_begin);
        }
        begin = end;
    }
    return scores;
}

std::vector<Passage> Reranker::rerank(std::string_view question, std::vector<Passage> candidates, int k) {
    std::vector<std::string> texts;
    texts.reserve(candidates.size());
    for (const Passage& p : candidates) texts.push_back(p.text);
    const std::vector<double> scores = score(question, texts);
    return rerank_passages(std::move(candidates), scores, k);
}

std::vector<Passage> rerank_passages(std::vector<Passage> candidates, std::span<const double> scores, int k) {
    if (scores.size() != candidates.size()) fail("rerank: {} scores for {} passages", scores.size(), candidates.size());
    std::vector<size_t> order(candidates.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    if (order.size() > size_t(std::max(0, k))) order.resize(size_t(std::max(0, k)));
    std::vector<Passage> out;
    out.reserve(order.size());
    for (size_t i : order) {
        out.push_back(std::move(candidates[i]));
        out.back().rerank_score = scores[i];
    }
    return out;
}

}  // namespace slm::rag
