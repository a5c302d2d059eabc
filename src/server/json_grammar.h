// JsonGrammar: response_format enforcement. A JSON Schema (or "any JSON object") is compiled into
// a tree of value shapes; JsonMatcher reads output byte by byte as a pushdown automaton over that
// tree and says which vocabulary tokens keep the output a valid prefix, so a sampler stage can
// mask all others. Supported schema subset: docs/serving.md ("Structured output").
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slm::server {

struct JsonShape;  // one node of the compiled schema (json_grammar.cpp)

// The bytes each token id produces, and which ids may only end the output.
struct TokenVocabulary {
    std::vector<std::string> bytes;   // by token id; empty for special tokens
    std::vector<int32_t> end_ids;     // end-of-generation ids
};

class JsonGrammar {
public:
    // response_format {"type":"json_object"}: any JSON object.
    static std::shared_ptr<const JsonGrammar> any_object(std::shared_ptr<const TokenVocabulary> vocab);
    // response_format {"type":"json_schema"}; throws ApiError (400, param `param`) for schema
    // features outside the supported subset, naming the schema path.
    static std::shared_ptr<const JsonGrammar> from_schema(const nlohmann::json& schema, const std::string& param,
                                                          std::shared_ptr<const TokenVocabulary> vocab);
    ~JsonGrammar();

    const JsonShape& root() const { return *root_; }
    const JsonShape& any() const { return *any_; }  // a value of any JSON type
    const TokenVocabulary& vocabulary() const { return *vocab_; }

private:
    JsonGrammar() = default;
    std::vector<std::unique_ptr<JsonShape>> shapes_;  // owns every node
    const JsonShape* root_ = nullptr;
    const JsonShape* any_ = nullptr;
    std::shared_ptr<const TokenVocabulary> vocab_;
    friend struct JsonShapeBuilder;
};

// The state of one output against a grammar: a stack of frames, cheap to copy.
class JsonMatcher {
public:
    explicit JsonMatcher(std::shared_ptr<const JsonGrammar> grammar);
    JsonMatcher(const JsonMatcher&);
    JsonMatcher& operator=(const JsonMatcher&);
    ~JsonMatcher();

    // Feeds bytes; false (and the state is then undefined) when they cannot continue valid output.
    bool feed(std::string_view bytes);
    bool complete() const;  // the root value is closed
    bool can_end() const;   // ending now yields valid JSON (complete, or a finished top-level number)

    // Sets logits of tokens that would break the grammar to -inf (end ids only when can_end()).
    void mask(std::span<float> logits) const;
    // Advances over a sampled token (an end id is accepted only when can_end()).
    void accept(int32_t token);
    size_t vocabulary_size() const { return grammar_->vocabulary().bytes.size(); }

    struct Frame;

private:
    bool feed_byte(unsigned char c);
    std::shared_ptr<const JsonGrammar> grammar_;
    std::vector<Frame> stack_;
    int whitespace_run_ = 0;
};

}  // namespace slm::server
