// Reranker: the generation model reorders retrieved passages by query likelihood, how probable
// it finds the question's tokens after each passage (docs/rag.md, "Reranking", says why and measures it).
#pragma once

#include <slm/model.h>
#include <slm/rag.h>
#include <slm/thread_pool.h>
#include <slm/tokenizer.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slm::rag {

// How many fused candidates a rerank for k passages scores: `requested` when positive (at least
// k), else 4 × k and at least 20.
int rerank_candidates(int k, int requested = 0);

struct RerankOptions {
    int batch_tokens = 2048;        // tokens per forward: short passages share one
    int max_passage_tokens = 1024;  // a longer passage is scored on its first this many tokens
};

class Reranker {
public:
    // Scores with `model` (any decoder slm runs, base or chat) on `pool`; both must outlive it.
    Reranker(const Model& model, const Tokenizer& tokenizer, ThreadPool& pool, const RerankOptions& options = {});

    // The mean log-probability per token of `question` written after each passage (as the answer
    // to "Please write a question based on this passage."), one per passage, in order. The
    // question's tokens are the same for every passage, so the scores compare; higher is better.
    std::vector<double> score(std::string_view question, std::span<const std::string> passages);
    // score() over the candidates' texts, then rerank_passages.
    std::vector<Passage> rerank(std::string_view question, std::vector<Passage> candidates, int k);

private:
    const Model& model_;
    const Tokenizer& tokenizer_;
    ThreadPool& pool_;
    RerankOptions options_;
};

// The best k candidates by `scores` (one per candidate), each with its rerank_score set; equal
// scores keep the retrieval order.
std::vector<Passage> rerank_passages(std::vector<Passage> candidates, std::span<const double> scores, int k);

}  // namespace slm::rag
