// GroundedChat: the generation side of `slm rag query` and `slm rag chat`: a model, its chat
// template and one Session; each question is asked with its retrieved passages numbered in the
// user turn, and the conversation (questions and answers, without the passages) carries over.
#pragma once

#include <slm/chat_template.h>
#include <slm/generator.h>
#include <slm/model.h>
#include <slm/rag.h>
#include <slm/reranker.h>
#include <slm/sampler.h>
#include <slm/session.h>
#include <slm/tokenizer.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace slm::cli {

struct GroundedChatOptions {
    std::string model;
    int max_tokens = 256, n_ctx = 0, threads = 0;
    float temperature = 0;  // grounded answers default to greedy: the same question, the same answer
    uint64_t seed = 0xfeedface;
};

struct GroundedAnswer {
    std::string text;
    std::vector<rag::Passage> passages;  // those that fitted the prompt, numbered 1..n
    GenerationResult result;
};

class GroundedChat {
public:
    explicit GroundedChat(const GroundedChatOptions& options);

    // Passages that would overflow the context (with room for the answer) are dropped from the end.
    GroundedAnswer ask(std::string_view question, std::vector<rag::Passage> passages,
                       const std::function<void(std::string_view)>& on_text = {});
    void clear();
    // The best k of `candidates` by this model's query likelihood (rag::Reranker), best first.
    std::vector<rag::Passage> rerank(std::string_view question, std::vector<rag::Passage> candidates, int k);

private:
    GroundedChatOptions options_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<Tokenizer> tokenizer_;
    std::unique_ptr<ChatTemplate> template_;
    std::unique_ptr<Session> session_;
    std::unique_ptr<rag::Reranker> reranker_;  // made on the first rerank
    nlohmann::ordered_json history_ = nlohmann::ordered_json::array();
};

}  // namespace slm::cli
